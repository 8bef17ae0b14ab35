"""Video transcoding speed: seconds of wall time per second of 1080p H.264 output at the default Video
Transcoding settings (target resolution `original`, so the output stays 1080p; everything else default:
libx264 ultrafast, CRF 23, AAC), on this machine's cores, through the job's code path (probe, decision,
command, nice'd ffmpeg with progress parsing, temporary file + rename), and the ratio to running the same
ffmpeg command by hand (at the same niceness). The job's overhead should stay under 5 %; run it on an
otherwise idle machine, since other processes slow a nice'd ffmpeg unevenly.

    .venv/bin/python bench/transcode.py [--seconds 10] [--rounds 2]

The source (1080p30 HEVC + AAC, which the default policy must transcode) is generated here in a temporary
folder, removed afterwards."""

import argparse
import os
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

        job_times, hand_times = [], []
        for round_number in range(1, args.rounds + 1):
            started = time.monotonic()
            current = transcode.plan(source, config)
            _, command, _ = current.attempts[0]
            transcode.run_command(command, source, Path(folder) / "job.mp4", current.probe.duration)
            job_times.append(time.monotonic() - started)

            # The same invocation by hand: the identical arguments minus the progress reporting, at the same
            # niceness (on a busy machine a nice'd job is slower by design; that is not overhead).
            argv = command.passes(executable(), str(source), str(Path(folder) / "hand.mp4"))[0]
            argv = ["nice", "-n", str(transcode.NICENESS),
                    *(arg for arg in argv if arg not in ("-progress", "pipe:1", "-nostats"))]
            started = time.monotonic()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            hand_times.append(time.monotonic() - started)
            print(f"round {round_number}: job {job_times[-1]:.2f} s, by hand {hand_times[-1]:.2f} s", flush=True)

        job, hand = min(job_times), min(hand_times)
        print(f"\ncommand: {' '.join(command.output_options)}")
        print(f"cores: {os.cpu_count()}")
        print(f"job path: {job / args.seconds:.3f} s per second of 1080p H.264 output "
              f"({args.seconds / job:.2f}x real time)")
        print(f"by hand:  {hand / args.seconds:.3f} s per second")
        print(f"overhead: {(job / hand - 1) * 100:+.1f} % (job / by hand = {job / hand:.3f})")


if __name__ == "__main__":
    main()
