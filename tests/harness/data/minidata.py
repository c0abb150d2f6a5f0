"""Mini versions of every dataset's real artefacts, built from tests/data/samples: the same archive formats,
member paths and file names as the documented sources (zoo.yaml `sources`), a few images each.

`MiniData` serves the downloadable archives from a LocalHTTPServer under the real URL paths, writes a registry whose
URLs point at it (loopback http, which the registry accepts for local mirrors), and holds the files a user would place
by hand (`manual`: filename -> bytes)."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.http_server import LocalHTTPServer

#: URL prefixes of the documented sources -> path prefixes on the local server.
PREFIXES = {
    "https://download.openmmlab.com/mmpose/datasets/": "/openmmlab/datasets/",
    "http://images.cocodataset.org/": "/coco/",
    "https://lilablobssc.blob.core.windows.net/cvwc2019/": "/lila/cvwc2019/",
}


def tar_bytes(files: dict[str, bytes], *, gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _images(folder: Path, suffixes=(".jpg", ".png")) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix in suffixes}


@dataclass
class MiniData:
    samples: Path
    served: dict[str, bytes] = field(default_factory=dict)  # server path -> bytes
    manual: dict[str, dict[str, bytes]] = field(default_factory=dict)  # dataset -> {file name: bytes}

    def build(self) -> MiniData:
        s = self.samples
        # AIC: MMPose's annotation tar; the validation image zip is a manual step.
        aic = _images(s / "aic")
        self.served["/openmmlab/datasets/aic_annotations.tar"] = tar_bytes(
            {"annotations/aic_val.json": (s / "aic/test_aic.json").read_bytes(), "annotations/aic_train.json": b"{}"}
        )
        img = "ai_challenger_keypoint_validation_20170911/keypoint_validation_images_20170911"
        self.manual["aic"] = {
            "ai_challenger_keypoint_validation_20170911.zip": zip_bytes({f"{img}/{n}": b for n, b in aic.items()})
        }
        # COCO: the whole trainval annotation zip (only one member is taken), val2017.zip, the box file by hand.
        self.served["/coco/annotations/annotations_trainval2017.zip"] = zip_bytes(
            {
                "annotations/person_keypoints_val2017.json": (s / "coco/test_coco.json").read_bytes(),
                "annotations/captions_val2017.json": b"{}",
                "annotations/instances_val2017.json": b"{}",
            }
        )
        self.served["/coco/zips/val2017.zip"] = zip_bytes({f"val2017/{n}": b for n, b in _images(s / "coco").items()})
        self.manual["coco"] = {
            "COCO_val2017_detections_AP_H_56_person.json": (s / "coco/test_coco_det_AP_H_56.json").read_bytes()
        }
        # Horse-10: file names under labeled-data/<video>/ as in the real files; the image tar wraps one folder.
        gt = json.loads((s / "horse10/test_horse10.json").read_text())
        for im in gt["images"]:
            im["file_name"] = f"labeled-data/BrownHorseinShadow/{im['file_name']}"
        ann = json.dumps(gt).encode()
        self.served["/openmmlab/datasets/horse10_annotations.tar"] = tar_bytes(
            {f"annotations/horse10-test-split{i}.json": ann for i in (1, 2, 3)}
        )
        frames = {f"horse10/labeled-data/BrownHorseinShadow/{n}": b for n, b in _images(s / "horse10").items()}
        self.manual["horse10"] = {"horse10.tar.gz": tar_bytes(frames, gz=True)}
        # MacaquePose: annotation tar; the image zip is a manual step.
        self.served["/openmmlab/datasets/macaque_annotations.tar"] = tar_bytes(
            {"annotations/macaque_test.json": (s / "macaque/test_macaque.json").read_bytes()}
        )
        macaque = {f"images/{n}": b for n, b in _images(s / "macaque").items()}
        self.manual["macaque"] = {"macaquepose_v1.zip": zip_bytes(macaque)}
        # ATRW: annotation tar and the Pose_val image archive (a val/ folder), both downloadable.
        self.served["/openmmlab/datasets/atrw_annotations.tar"] = tar_bytes(
            {"annotations/keypoint_val.json": (s / "atrw/test_atrw.json").read_bytes()}
        )
        self.served["/lila/cvwc2019/train/atrw_pose_val.tar.gz"] = tar_bytes(
            {f"val/{n}": b for n, b in _images(s / "atrw").items()}, gz=True
        )
        return self

    def serve(self, server: LocalHTTPServer) -> None:
        for path, body in self.served.items():
            server.add(path, body)

    def registry(self, repo_root: Path, server: LocalHTTPServer, out: Path, *, edit=None) -> Path:
        """zoo.yaml with every documented URL pointing at `server`; `edit(text) -> text` for a test's change."""
        text = (repo_root / "zoo.yaml").read_text()
        for real, local in PREFIXES.items():
            text = text.replace(real, server.url(local))
        if edit is not None:
            text = edit(text)
        out.mkdir(parents=True, exist_ok=True)
        (out / "zoo.yaml").write_text(text)
        return out / "zoo.yaml"

    def place_manual(self, root: Path, dataset: str) -> None:
        """What a user does by hand: archives into downloads/<dataset>/, a plain file at its layout path."""
        for name, data in self.manual.get(dataset, {}).items():
            dest = root / "downloads" / dataset / name
            if name.endswith(".json"):  # COCO's box file goes straight to its place
                dest = root / "coco/person_detection_results" / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
