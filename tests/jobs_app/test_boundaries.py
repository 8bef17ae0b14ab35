"""jobs_app is the engine: it imports no media or user code. Each app registers its own job handlers
(its tasks.py, from its AppConfig.ready()); the engine only offers the registries."""

import ast
from pathlib import Path

import jobs_app
from jobs_app.handlers import get_handler

ENGINE = Path(jobs_app.__file__).parent
DOMAIN_APPS = ("media_app", "users_app")
# The pages and API of the jobs dashboard use the project's access rules, which live in users_app.
WEB_LAYER = {"views.py": {"users_app.decorators"}, "api.py": {"users_app.decorators"}}


def domain_references(path: Path) -> set[str]:
    """Modules of media_app/users_app a file imports, or names in a string (importlib.import_module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        else:
            continue
        found |= {name for name in names if name.split(".")[0] in DOMAIN_APPS}
    return found


def test_the_engine_imports_no_media_or_user_code():
    files = [path for path in ENGINE.rglob("*.py") if "migrations" not in path.parts]
    assert len(files) > 10
    offending = {}
    for path in files:
        extra = domain_references(path) - WEB_LAYER.get(path.name, set()) if path.parent == ENGINE \
            else domain_references(path)
        if extra:
            offending[str(path.relative_to(ENGINE))] = sorted(extra)
    assert offending == {}


def test_each_app_registers_its_own_handlers():
    assert get_handler("AssetDeleteCheck").func.__module__ == "media_app.tasks"
    assert get_handler("UserSyncUsage").func.__module__ == "media_app.tasks"
    assert get_handler("AssetGenerateThumbnails").func.__module__ == "media_app.tasks"
    assert get_handler("UserDeleteCheck").func.__module__ == "users_app.tasks"
    assert get_handler("UserDelete").func.__module__ == "users_app.tasks"
    assert get_handler("DatabaseBackup").func.__module__ == "jobs_app.tasks"
    assert get_handler("VersionCheck").func.__module__ == "settings_app.tasks"
    assert get_handler("IntegrityChecksumFiles").func.__module__ == "media_app.tasks"
    assert get_handler("MemoryGenerate").func.__module__ == "media_app.tasks"
    assert get_handler("LibraryScanQueueAll").func.__module__ == "jobs_app.tasks"
