"""A private one-node Slurm cluster in a folder: munged, slurmctld and slurmd on this machine, for the cluster tests
and CI (never a site's cluster: every client command is pointed at this config through SLURM_CONF).

    python -m tests.cluster.slurm_local start /tmp/slurm   # prints the export line for SLURM_CONF
    python -m tests.cluster.slurm_local stop /tmp/slurm

Needs root (slurmd runs jobs as their user; munged and slurmctld run as root here) and Debian's `slurm-wlm` and
`munge` packages (`apt-get install slurm-wlm munge`). The config is what runs on a CI container: one node with this
machine's CPUs, ProctrackType=proctrack/linuxproc and TaskPlugin=task/none (no cgroups), select/cons_tres counting
CPUs only, no accounting daemon (slurmdbd): job states come from squeue and submitit's own files
(harness/cluster/states.py says why). Every daemon gets its own socket, ports, pid file, log and state under the
folder, and is stopped through its pid file, never by name, so nothing else on the machine is touched.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scancel", "scontrol")
PARTITION = "debug"
#: Completed jobs stay in squeue this long (seconds): long enough for a test to read their final state there.
MIN_JOB_AGE = 600


class SlurmUnavailableError(RuntimeError):
    """This machine cannot start the private cluster (the reason says why: not root, a daemon missing, ...)."""


def unavailable_reason() -> str | None:
    """Why the private cluster cannot be started here, or None when it can be tried."""
    if sys.platform != "linux":
        return f"a private Slurm runs on Linux only (this is {sys.platform})"
    if os.geteuid() != 0:
        return "starting a private Slurm needs root (slurmd launches jobs as their user)"
    missing = [name for name in (*DAEMONS, *CLIENTS) if not _which(name)]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install slurm-wlm munge)"
    return None


def _which(name: str) -> str | None:
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalSlurm:
    """The cluster of one folder: `start()` writes the config and starts the daemons, `stop()` stops them."""

    folder: Path
    cpus: int = os.cpu_count() or 1

    @property
    def conf(self) -> Path:
        return self.folder / "slurm.conf"

    @property
    def munge_socket(self) -> Path:
        return self.folder / "munge" / "munge.socket"

    def pid_file(self, daemon: str) -> Path:
        return self.folder / f"{daemon}.pid"

    def log_file(self, daemon: str) -> Path:
        return self.folder / f"{daemon}.log"

    def env(self) -> dict[str, str]:
        """What a client (sbatch, squeue, submitit) needs to talk to this cluster and no other."""
        return {"SLURM_CONF": str(self.conf)}

    def write_config(self) -> None:
        node = socket.gethostname().split(".")[0]
        for sub in ("munge", "state", "spool"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder / "munge", 0o700)
        key = self.folder / "munge" / "munge.key"
        if not key.exists():
            key.write_bytes(secrets.token_bytes(1024))
            os.chmod(key, 0o400)
        lines = {
            "ClusterName": "hrnetzoo-test",
            "SlurmctldHost": "localhost",
            "SlurmctldPort": _free_port(),
            "SlurmdPort": _free_port(),
            "AuthType": "auth/munge",
            "CredType": "cred/munge",
            "AuthInfo": f"socket={self.munge_socket}",
            "SlurmUser": "root",
            "SlurmdUser": "root",
            "StateSaveLocation": self.folder / "state",
            "SlurmdSpoolDir": self.folder / "spool",
            "SlurmctldPidFile": self.pid_file("slurmctld"),
            "SlurmdPidFile": self.pid_file("slurmd"),
            "SlurmctldLogFile": self.log_file("slurmctld"),
            "SlurmdLogFile": self.log_file("slurmd"),
            "ProctrackType": "proctrack/linuxproc",
            "TaskPlugin": "task/none",
            "SelectType": "select/cons_tres",
            "SelectTypeParameters": "CR_CPU",
            "MpiDefault": "none",
            "SwitchType": "switch/none",
            "JobCompType": "jobcomp/none",
            "JobAcctGatherType": "jobacct_gather/none",
            "AccountingStorageType": "accounting_storage/none",
            "SchedulerType": "sched/backfill",
            "ReturnToService": 2,
            "MinJobAge": MIN_JOB_AGE,
            "KillWait": 5,
            "InactiveLimit": 0,
            "SlurmctldTimeout": 30,
            "SlurmdTimeout": 60,
        }
        text = "".join(f"{k}={v}\n" for k, v in lines.items())
        text += f"NodeName={node} NodeAddr=127.0.0.1 CPUs={self.cpus} State=UNKNOWN\n"
        text += f"PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP\n"
        self.conf.write_text(text)
        self.node = node

    def start(self, timeout_s: float = 60) -> LocalSlurm:
        reason = unavailable_reason()
        if reason:
            raise SlurmUnavailableError(reason)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.write_config()
        munge = self.folder / "munge"
        self._spawn(
            "munged", f"--socket={self.munge_socket}", f"--key-file={munge / 'munge.key'}",
            f"--pid-file={self.pid_file('munged')}", f"--log-file={self.log_file('munged')}",
            f"--seed-file={munge / 'munged.seed'}", "--force",
        )  # fmt: skip
        self._spawn("slurmctld", "-f", str(self.conf), "-c")  # -c: a clean start, no saved jobs
        self._spawn("slurmd", "-f", str(self.conf), "-N", self.node)
        self._wait_idle(timeout_s)
        return self

    def _spawn(self, daemon: str, *args: str) -> None:
        """Start a daemon (each forks into the background and writes its pid file) and wait for its pid file."""
        proc = subprocess.run([_which(daemon), *args], capture_output=True, text=True, env=self._env())
        pid_file = self.pid_file(daemon)
        for _ in range(100):
            if proc.returncode != 0 or _pid(pid_file):
                break
            time.sleep(0.1)
        if proc.returncode != 0 or not _pid(pid_file):
            self.stop()
            raise SlurmUnavailableError(f"{daemon} did not start ({proc.stderr.strip()}); see {self.log_file(daemon)}")

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self.env()}

    def _wait_idle(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        state = ""
        while time.monotonic() < deadline:
            out = subprocess.run(
                ["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, env=self._env(), check=False
            )
            state = out.stdout.strip() or out.stderr.strip()
            if state == "idle":
                return
            time.sleep(0.5)
        self.stop()
        raise SlurmUnavailableError(f"the node did not become idle in {timeout_s:.0f} s (last: {state!r})")

    def stop(self) -> None:
        """Stop the daemons through their pid files (slurmd first), waiting for each to exit."""
        for daemon in reversed(DAEMONS):
            pid = _pid(self.pid_file(daemon))
            if pid is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not _alive(pid):
                    break
                time.sleep(0.1)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.pid_file(daemon).unlink(missing_ok=True)

    def __enter__(self) -> LocalSlurm:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours counts as gone (the daemons fork away from us, so this is rare).
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.cluster.slurm_local", description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=["start", "stop"])
    p.add_argument("folder", type=Path, help="where the config, sockets, state and logs live")
    args = p.parse_args(argv)
    cluster = LocalSlurm(args.folder.resolve())
    if args.action == "stop":
        cluster.stop()
        return 0
    try:
        cluster.start()
    except SlurmUnavailableError as exc:
        print(f"error: cannot start a private Slurm: {exc}", file=sys.stderr)
        return 2
    print(f"export SLURM_CONF={cluster.conf}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
