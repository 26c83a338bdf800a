"""What the local stack runs: the `sam build` output of template.yaml (rebuilt when a source file or
the template changed since the last build), and awslambdaric for python3.12, which the Lambda
python runtime has built in. Both need a python3.12, as `sam build` does for the python3.12 runtime.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = ROOT / ".aws-sam" / "local"
RUNTIME_CLIENT_DIR = ROOT / ".aws-sam" / "local-runtime-client"
SOURCES = ("template.yaml", "functions", "layers")


class BuildError(Exception):
    pass


def host_architecture() -> str:
    return "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"


def python312() -> str:
    """A working python3.12: $PY312, then PATH, then the usual install places (pyenv, Homebrew, apt);
    as the interpreter's own path, not a pyenv shim, which would need PYENV_VERSION in the functions'
    clean environments."""
    candidates = [
        os.environ.get("PY312", ""),
        shutil.which("python3.12") or "",
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")), reverse=True),
        "/usr/local/bin/python3.12",
        "/usr/bin/python3.12",
        "/opt/homebrew/bin/python3.12",
    ]
    for candidate in filter(None, candidates):
        try:
            probe = [candidate, "-c", "import sys; print(sys.executable)"]
            found = subprocess.run(probe, capture_output=True, text=True, timeout=10)  # noqa: S603
        except (OSError, subprocess.TimeoutExpired):
            continue
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    raise BuildError(
        "the functions run on python3.12 (the template's runtime) and none was found: install it "
        "(apt install python3.12, brew install python@3.12, or pyenv install 3.12) or set PY312=/path/to/python3.12"
    )


def source_digest(template: Path) -> str:
    digest = hashlib.sha256()
    files = [template] + [
        path
        for name in SOURCES[1:]
        for path in sorted((ROOT / name).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]
    for path in files:
        digest.update(str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_build(template: Path = ROOT / "template.yaml", build_dir: Path = BUILD_DIR, quiet: bool = False) -> Path:
    """`sam build` of `template` into `build_dir` for this machine's architecture, unless it is current."""
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(build_dir.parent / f".{build_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # `make local` and a test run may start together
        stamp = build_dir / ".source-digest"
        digest = source_digest(template)
        if stamp.exists() and stamp.read_text() == digest:
            return build_dir
        py312 = python312()
        shim = build_dir.parent / ".python312-bin"
        shim.mkdir(exist_ok=True)
        (shim / "python3.12").unlink(missing_ok=True)
        (shim / "python3.12").symlink_to(py312)
        arch = host_architecture()
        if not quiet:
            print(f"sam build ({arch}, {py312}) into {build_dir.relative_to(ROOT)} …", file=sys.stderr, flush=True)
        sam = Path(sys.executable).parent / "sam"
        env = {
            **os.environ,
            "PATH": f"{shim}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "LAYER_ARCH": arch,
            "SAM_CLI_TELEMETRY": "0",
        }
        command = [
            str(sam),
            "build",
            "--template",
            str(template),
            "--build-dir",
            str(build_dir),
            "--parameter-overrides",
            f"Architecture={arch}",
        ]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)  # noqa: S603
        if done.returncode != 0:
            raise BuildError(f"sam build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        stamp.write_text(digest)
        return build_dir


def ensure_runtime_client(target: Path = RUNTIME_CLIENT_DIR) -> Path:
    """awslambdaric (pinned in requirements-dev.txt) for python3.12 on this machine, precompiled as
    the Lambda runtime ships it."""
    pin = next(
        line.strip()
        for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
        if line.lower().startswith("awslambdaric==")
    )
    done = target / f".{pin}"
    if done.exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    machine = "aarch64" if host_architecture() == "arm64" else "x86_64"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        str(target),
        "--python-version",
        "3.12",
        "--only-binary=:all:",
        "--platform",
        f"manylinux2014_{machine}",
        pin,
    ]
    result = subprocess.run(command, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise BuildError(f"could not install {pin} for python3.12:\n{result.stderr[-2000:]}")
    subprocess.run([python312(), "-m", "compileall", "-q", str(target)], check=False)  # noqa: S603
    done.touch()
    return target


def main() -> int:
    try:
        build_dir = ensure_build()
        ensure_runtime_client()
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"functions built from template.yaml in {build_dir.relative_to(ROOT)} (runtime python3.12: {python312()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
