"""Job handlers of the server itself: thin wrappers around settings_app services. Imported by
SettingsAppConfig.ready()."""

from jobs_app.handlers import job_handler

from . import version_check


@job_handler("VersionCheck")
def check_for_new_version(job) -> str:
    return version_check.run_check()
