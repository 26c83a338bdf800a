"""A stand-in for AWS's Lambda python3.12 base image, for `sam local` where no container registry is
reachable (`make sam-local-image`). It is built once and kept in the Docker engine's image store: a
second run finds it (same recipe, same python3.12, same awslambdaric) and does nothing.

What is in it:
- Debian bookworm, `debootstrap --variant=minbase` from the Debian mirror apt uses on this machine,
  with the shared libraries CPython's modules load (OpenSSL, libffi, SQLite, …) and CA certificates;
- this machine's python3.12 (the one `sam build` uses, local/cloud/build.py) under /var/lang, as in AWS's
  image: the interpreter, libpython and the standard library (without its tests, IDLE and Tk);
- /var/runtime: awslambdaric at the pin in requirements-dev.txt (what the local stack runs too), and
  /var/runtime/bootstrap, which runs it with the function's handler;
- the variables AWS's image sets (PATH, LD_LIBRARY_PATH, LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR, LANG, TZ);
- tagged as SAM CLI asks for the python3.12 runtime on this machine's architecture:
  public.ecr.aws/lambda/python:3.12-x86_64 or …-arm64 (samcli's own Runtime.get_image_name_tag).

How it differs from AWS's image: Debian bookworm (glibc 2.36), not Amazon Linux 2023 (glibc 2.34);
CPython 3.12 as built on this machine (its patch release may differ from AWS's); /var/runtime holds
awslambdaric alone, where AWS's also holds boto3 and botocore (the relay's layer brings its own pinned
boto3, so the functions import the same code either way); no /lambda-entrypoint.sh (SAM CLI starts
its own Runtime Interface Emulator as the entrypoint); this machine's architecture only, never emulated.
Nothing here is for deploying: AWS runs its own image.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from local.cloud.build import ROOT, BuildError, ensure_runtime_client, host_architecture, python312

SUITE = "bookworm"
# What CPython's own modules link against (ssl, ctypes, sqlite3, bz2, lzma, uuid, readline, curses, …).
PACKAGES = (
    "ca-certificates,libssl3,libffi8,libsqlite3-0,libexpat1,libuuid1,libreadline8,"
    "libncursesw6,libbz2-1.0,liblzma5,zlib1g"
)
# Left out of the standard library: not used by a function, and most of its size.
STDLIB_SKIP = ("test", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages", "lib2to3", "config-3.12-*")
LABEL = "omni-relay.sam-local-stand-in"
# As AWS's python3.12 image sets them.
IMAGE_ENV = {
    "LANG": "en_US.UTF-8",
    "TZ": ":/etc/localtime",
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
}
# Lambda's python runtime puts the function's code first, then its layers, then the runtime client.
BOOTSTRAP = """#!/bin/sh
# The stand-in's runtime: awslambdaric with the function's handler (local/cloud/sam_local_image.py).
export PYTHONPATH="/var/task:/opt/python/lib/python3.12/site-packages:/opt/python:/var/runtime"
export AWS_EXECUTION_ENV="${AWS_EXECUTION_ENV:-AWS_Lambda_python3.12}"
exec /var/lang/bin/python3.12 -m awslambdaric "${_HANDLER:-$AWS_LAMBDA_FUNCTION_HANDLER}"
"""


def image_tag(architecture: str | None = None) -> str:
    """The base image `sam local` asks for a python3.12 function of `architecture` (default: this machine's)."""
    from samcli.local.docker.lambda_image import LambdaImage, Runtime

    arch = architecture or host_architecture()
    return f"{LambdaImage._INVOKE_REPO_PREFIX}/{Runtime.get_image_name_tag('python3.12', arch)}"


def _python_layout(python: str) -> dict[str, str]:
    probe = (
        "import json, sys, sysconfig; v = sysconfig.get_config_var; print(json.dumps({"
        "'version': sys.version, 'executable': sys.executable, 'stdlib': sysconfig.get_path('stdlib'),"
        "'libdir': v('LIBDIR') or '', 'soname': v('INSTSONAME') or '', 'shared': str(v('Py_ENABLE_SHARED') or 0)}))"
    )
    found = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)  # noqa: S603
    return dict(json.loads(found.stdout))


def recipe_digest(python: str, runtime_client: Path) -> str:
    """Changes when anything the image is made of changes: this recipe, the python, the runtime client."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(_python_layout(python)["version"].encode())
    digest.update(",".join(sorted(p.name for p in runtime_client.iterdir())).encode())
    return digest.hexdigest()[:16]


def docker(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, **kwargs)  # type: ignore[call-overload] # noqa: S603 S607


def current_image(tag: str) -> str:
    """The recipe digest of the stand-in image under `tag`, or "" when there is none (or not ours)."""
    found = docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{LABEL}"}}}}', tag)
    return found.stdout.strip() if found.returncode == 0 and found.stdout.strip() != "<no value>" else ""


def debian_mirror() -> str:
    """The Debian archive apt uses here (so the image comes from the same registry as every package)."""
    found = subprocess.run(
        ["apt-get", "indextargets", "--format", "$(REPO_URI) $(RELEASE)", "Identifier: Packages"],  # noqa: S607
        capture_output=True,
        text=True,
    )
    for line in found.stdout.splitlines():
        uri, _, release = line.partition(" ")
        if release.strip() == SUITE:
            return uri.strip()
    raise BuildError(f"apt knows no Debian {SUITE} archive here (apt-get update first?)")


def _copy_python(python: str, root: Path) -> None:
    layout = _python_layout(python)
    lang = root / "var" / "lang"
    (lang / "bin").mkdir(parents=True)
    shutil.copy2(Path(layout["executable"]).resolve(), lang / "bin" / "python3.12")
    for alias in ("python3", "python"):
        (lang / "bin" / alias).symlink_to("python3.12")
    shutil.copytree(layout["stdlib"], lang / "lib" / "python3.12", ignore=shutil.ignore_patterns(*STDLIB_SKIP))
    (lang / "lib" / "python3.12" / "site-packages").mkdir()
    if layout["shared"] not in ("0", "") and layout["soname"]:
        shutil.copy2(Path(layout["libdir"]) / layout["soname"], lang / "lib" / layout["soname"])


def build_image(tag: str, digest: str, python: str, runtime_client: Path, say: object = print) -> None:
    if shutil.which("debootstrap") is None:
        raise BuildError("debootstrap is needed to build the stand-in image: apt-get install debootstrap")
    mirror = debian_mirror()
    with tempfile.TemporaryDirectory(prefix="sam-local-image-", dir="/var/tmp") as work:
        root = Path(work) / "rootfs"
        say(f"debootstrap {SUITE} (minbase) from apt's Debian archive …")  # type: ignore[operator]
        strap = subprocess.run(  # noqa: S603
            ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, str(root), mirror],  # noqa: S607
            capture_output=True,
            text=True,
        )
        if strap.returncode != 0:
            raise BuildError(f"debootstrap failed:\n{strap.stdout[-2000:]}\n{strap.stderr[-2000:]}")
        for junk in ("usr/share/doc", "usr/share/man", "usr/share/locale", "var/cache/apt", "var/lib/apt/lists"):
            shutil.rmtree(root / junk, ignore_errors=True)
        say(f"python3.12 from {python} into /var/lang, awslambdaric into /var/runtime …")  # type: ignore[operator]
        _copy_python(python, root)
        shutil.copytree(runtime_client, root / "var" / "runtime", ignore=shutil.ignore_patterns(".awslambdaric*"))
        bootstrap = root / "var" / "runtime" / "bootstrap"
        bootstrap.write_text(BOOTSTRAP)
        bootstrap.chmod(0o755)
        for folder in ("var/task", "opt"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        changes = [f"ENV {name}={value}" for name, value in IMAGE_ENV.items()]
        changes += ["WORKDIR /var/task", 'ENTRYPOINT ["/var/runtime/bootstrap"]', f"LABEL {LABEL}={digest}"]
        say(f"docker import as {tag} …")  # type: ignore[operator]
        tar = subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)  # noqa: S603 S607
        imported = subprocess.run(  # noqa: S603
            ["docker", "import", *(arg for c in changes for arg in ("--change", c)), "-", tag],  # noqa: S607
            stdin=tar.stdout,
            capture_output=True,
            text=True,
        )
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise BuildError(f"docker import failed: {imported.stderr[-2000:]}")


def ensure_image(say: object = print) -> str:
    """The stand-in image for this machine's architecture, built unless it is current; its tag."""
    tag = image_tag()
    python = python312()
    runtime_client = ensure_runtime_client()
    digest = recipe_digest(python, runtime_client)
    if current_image(tag) == digest:
        say(f"{tag}: the stand-in image is current (recipe {digest})")  # type: ignore[operator]
        return tag
    build_image(tag, digest, python, runtime_client, say)
    say(f"{tag}: built (recipe {digest})")  # type: ignore[operator]
    return tag


def main() -> int:
    if docker("info").returncode != 0:
        print("error: no Docker engine answers: make sam-local-engine starts one", file=sys.stderr)
        return 1
    try:
        ensure_image()
    except (BuildError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
