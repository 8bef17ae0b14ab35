"""Video transcoding speed: seconds of wall time per second of 1080p H.264 output at the default Video
Transcoding settings (target resolution `original`, so the output stays 1080p; everything else default:
libx264 ultrafast, CRF 23, AAC), on this machine's cores, through the job's code path (probe, decision,
command, nice'd ffmpeg with progress parsing, temporary file + rename), and the ratio to running the same
ffmpeg command by hand (at the same niceness). The job's overhead should stay under 5 %. Wall time is
best measured on an otherwise idle machine, since other processes slow a nice'd ffmpeg unevenly; the CPU
time of the two paths (this process plus its children) is printed too, and other load hardly moves it.

    .venv/bin/python bench/transcode.py [--seconds 10] [--rounds 2]

The source (1080p30 HEVC + AAC, which the default policy must transcode) is generated here in a temporary
folder, removed afterwards."""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of the generated 1080p clip")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import django

    django.setup()
    from media_app.services import transcode
    from media_app.services.ffmpeg import executable, run
    from settings_app.services import config_with

    config = config_with({"ffmpeg.targetResolution": "original"})
    with tempfile.TemporaryDirectory(prefix="bench-transcode-") as folder:
        source = Path(folder) / "source.mov"
        print(f"generating a {args.seconds} s 1080p30 HEVC/AAC clip…", flush=True)
        run(["-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={args.seconds}", "-f", "lavfi", "-i",
             f"sine=frequency=440:duration={args.seconds}", "-c:v", "libx265", "-preset", "ultrafast", "-crf", "26",
             "-pix_fmt", "yuv420p", "-tag:v", "hvc1", "-c:a", "aac", str(source)], timeout=3600)

        def job_round():
            current = transcode.plan(source, config)
            _, command, _ = current.attempts[0]
            transcode.run_command(command, source, Path(folder) / "job.mp4", current.probe.duration)

        def hand_round(command):
            # The same invocation by hand: the identical arguments minus the progress reporting, at the same
            # niceness (on a busy machine a nice'd job is slower by design; that is not overhead).
            argv = command.passes(executable(), str(source), str(Path(folder) / "hand.mp4"))[0]
            argv = ["nice", "-n", str(transcode.NICENESS),
                    *(arg for arg in argv if arg not in ("-progress", "pipe:1", "-nostats"))]
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        command = transcode.plan(source, config).attempts[0][1]
        times = {"job": [], "hand": []}
        cpu = {"job": [], "hand": []}
        for round_number in range(1, args.rounds + 1):
            # Alternate which goes first, so neither always meets a warm (or a busy) cache.
            order = ("job", "hand") if round_number % 2 else ("hand", "job")
            for which in order:
                before_wall, before_cpu = time.monotonic(), cpu_seconds()
                job_round() if which == "job" else hand_round(command)
                times[which].append(time.monotonic() - before_wall)
                cpu[which].append(cpu_seconds() - before_cpu)
            print(f"round {round_number}: job {times['job'][-1]:.2f} s ({cpu['job'][-1]:.2f} s CPU), "
                  f"by hand {times['hand'][-1]:.2f} s ({cpu['hand'][-1]:.2f} s CPU)", flush=True)

        job, hand = min(times["job"]), min(times["hand"])
        job_cpu, hand_cpu = statistics.median(cpu["job"]), statistics.median(cpu["hand"])
        print(f"\ncommand: {' '.join(command.output_options)}")
        print(f"cores: {os.cpu_count()}, load average at the end: {os.getloadavg()[0]:.2f}")
        print(f"job path: {job / args.seconds:.3f} s per second of 1080p H.264 output "
              f"({args.seconds / job:.2f}x real time)")
        print(f"by hand:  {hand / args.seconds:.3f} s per second")
        print(f"overhead, wall time (best of {args.rounds}): {(job / hand - 1) * 100:+.1f} % "
              f"(job / by hand = {job / hand:.3f})")
        print(f"overhead, CPU time (median, this process + ffmpeg): {(job_cpu / hand_cpu - 1) * 100:+.1f} % "
              f"(job / by hand = {job_cpu / hand_cpu:.3f}); the figure that other load on the machine "
              f"does not skew")


def cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (ffmpeg, nice)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

if __name__ == "__main__":
    main()
