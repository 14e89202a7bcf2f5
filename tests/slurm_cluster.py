"""A real single-node SLURM cluster for the tests, started the way tests/test_team_server.py starts
PostgreSQL: Debian's ``slurm-wlm`` and ``munge`` packages, everything in a temporary folder.

:class:`Cluster` writes a munge key and a ``slurm.conf`` (the node's real CPUs and memory from
``slurmd -C``, free ports on 127.0.0.1, state, spool, logs, pid files and the munge socket under
the folder), starts ``munged``, ``slurmctld`` and ``slurmd`` in the foreground as child processes,
waits until ``sinfo`` shows the node idle, and stops them (after cancelling every job) at the end.
Clients (``sbatch``, ``squeue``, submitit, the jobs themselves) find it through ``SLURM_CONF``,
which :attr:`Cluster.env` carries.

No systemd and no cgroups are needed: process tracking by ``/proc`` (proctrack/linuxproc), no task
plugin, memory limits enforced by the accounting poller (``OverMemoryKill``), no accounting
database (so ``sacct`` answers "accounting storage is disabled", as on many small sites).
Without the packages the fixture fails in one line saying how to install them; it never skips.
"""

from __future__ import annotations

import getpass
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pytest

HINT = "install Debian's slurm-wlm and munge packages (apt-get install slurm-wlm munge; .ci/run does it)"
PARTITION = "debug"
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "sinfo", "scontrol", "scancel")

# The part of slurm.conf that does not depend on the machine (docs/cluster.md, "Rehearse SLURM on one machine", shows it whole).
CONF = """\
ClusterName=oneclass
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
AuthInfo=socket={dir}/munge/munge.socket
CredType=cred/munge
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/run/slurmctld.pid
SlurmdPidFile={dir}/run/slurmd.pid
SlurmctldLogFile={dir}/log/slurmctld.log
SlurmdLogFile={dir}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=600
KillWait=5
OverTimeLimit=0
NodeName={node} NodeAddr=127.0.0.1 {hardware} State=UNKNOWN
PartitionName={partition} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""
# For the tests only: debug2 makes slurmctld log each of its time-limit checks ("Testing job time
# limits and checkpoints"), which Cluster.release_in_phase times a job's start by.
TEST_CONF = "SlurmctldDebug=debug2\n"
# slurmctld checks time limits every 30 s (PERIODIC_TIMEOUT, compiled in; no slurm.conf setting changes
# it). At each check it sends the --signal=SIG@N signal to a job whose end is within N + 30 s, and
# kills a job past its end (OverTimeLimit=0): with timeout_min=1 and signal_delay_s=1 the signal comes
# at the first check at least 29 s after the start, i.e. 60 s minus the time from the last check
# before the start to the start (30 s when that is under 1 s), and the kill 30 s later.
CHECK_EVERY_S = 30
TIME_CHECK = re.compile(r"^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)\] debug2: Testing job time limits")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binaries() -> dict[str, str]:
    """Paths of the daemons and clients; fails the test in one line when one is missing."""
    found = {}
    for name in (*DAEMONS, *CLIENTS):
        path = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.isfile(p)), None)
        if path is None:
            pytest.fail(f"{name} not found: a SLURM test cluster needs it; {HINT}", pytrace=False)
        found[name] = path
    return found


def node_hardware(slurmd: str) -> tuple[str, str]:
    """(node name, ``CPUs=... RealMemory=...``) of this machine, from ``slurmd -C``."""
    proc = subprocess.run([slurmd, "-C"], capture_output=True, text=True, timeout=60)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("NodeName=")), None)
    if proc.returncode or line is None:
        pytest.fail(f"`slurmd -C` could not describe this machine ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[:300]}",
                    pytrace=False)
    name, _, hardware = line.partition(" ")
    return name.split("=", 1)[1], hardware.strip()


class Cluster:
    """munged + slurmctld + slurmd on 127.0.0.1, all state under one temporary folder."""

    def __init__(self) -> None:
        self.bin = binaries()
        # short: the munge socket's path must fit a unix socket address (108 bytes)
        self.dir = Path(tempfile.mkdtemp(prefix="oneclass-slurm-"))
        for sub in ("state", "spool", "log", "run", "munge"):
            (self.dir / sub).mkdir()
        os.chmod(self.dir, 0o755)
        os.chmod(self.dir / "munge", 0o755)  # clients must reach the socket
        self.node, self.hardware = node_hardware(self.bin["slurmd"])
        self.conf = self.dir / "slurm.conf"
        self.socket = self.dir / "munge" / "munge.socket"
        self.procs: dict[str, subprocess.Popen] = {}
        self.partition = PARTITION
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    @property
    def cpus(self) -> int:
        return int(re.search(r"CPUs=(\d+)", self.hardware).group(1))

    def write(self) -> None:
        key = self.dir / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o600)
        self.conf.write_text(CONF.format(node=self.node, hardware=self.hardware, user=getpass.getuser(), dir=self.dir,
                                         ctld_port=free_port(), slurmd_port=free_port(), partition=self.partition)
                             + TEST_CONF)

    def _start(self, name: str, *args: str) -> None:
        log = open(self.dir / "log" / f"{name}.out", "ab")
        self.procs[name] = subprocess.Popen([self.bin[name], *args], stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)
        log.close()

    def start(self, timeout_s: float = 120) -> float:
        t0 = time.time()
        self.write()
        # --force: munged refuses to run as root, or with a key in a group-writable /tmp, without it
        self._start("munged", "-F", "--force", f"--socket={self.socket}", f"--key-file={self.dir / 'munge.key'}",
                    f"--log-file={self.dir / 'log' / 'munged.log'}", f"--pid-file={self.dir / 'run' / 'munged.pid'}",
                    f"--seed-file={self.dir / 'munge' / 'seed'}")
        self._wait(lambda: self.socket.exists(), t0, timeout_s, "munged's socket")
        self._start("slurmctld", "-D", "-c", "-f", str(self.conf))
        self._start("slurmd", "-D", "-N", self.node, "-f", str(self.conf))
        self._wait(lambda: self.node_state() == "idle", t0, timeout_s, "sinfo to show the node idle")
        return time.time() - t0

    def _wait(self, predicate, t0: float, timeout_s: float, what: str) -> None:
        while not predicate():
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead or time.time() - t0 > timeout_s:
                why = f"{dead[0]} exited ({self.procs[dead[0]].returncode})" if dead else f"timed out after {timeout_s:.0f} s"
                tail = self.log_tail(dead[0] if dead else None)
                self.stop()
                pytest.fail(f"the SLURM test cluster did not start ({why} waiting for {what}): {tail}", pytrace=False)
            time.sleep(0.3)

    def log_tail(self, name: str | None = None) -> str:
        """The last error line of the daemons' logs (one line, for a one-line failure)."""
        lines: list[str] = []
        for daemon in ([name] if name else DAEMONS):
            for path in (self.dir / "log" / f"{daemon}.log", self.dir / "log" / f"{daemon}.out"):
                if path.is_file():
                    lines += [f"{daemon}: {l.strip()}" for l in path.read_text(errors="replace").splitlines()
                              if re.search(r"error|fatal", l, re.I)]
        return lines[-1] if lines else f"no error in the logs under {self.dir / 'log'}"

    def run(self, *cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.bin.get(cmd[0], cmd[0]), *cmd[1:]], capture_output=True, text=True, env=self.env,
                              timeout=timeout)
        if check and proc.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
        return proc

    def node_state(self) -> str | None:
        if "slurmctld" not in self.procs:
            return None
        proc = self.run("sinfo", "-h", "-n", self.node, "-o", "%T", check=False, timeout=20)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def jobs(self) -> list[dict[str, str]]:
        """squeue's jobs, array tasks one by one: ``JobID`` ("12_3" for an array task), ``State``, ``Reason``."""
        out = self.run("squeue", "-h", "-r", "-o", "%i|%T|%r").stdout
        return [dict(zip(("JobID", "State", "Reason"), line.strip().split("|"))) for line in out.splitlines() if line.strip()]

    def job_field(self, job_id: str, field: str) -> str | None:
        """One field of ``scontrol show job`` (e.g. JobState, Restarts), None when SLURM no longer knows the job."""
        proc = self.run("scontrol", "-o", "show", "job", job_id, check=False)
        match = re.search(rf"(?:^|\s){field}=(\S*)", proc.stdout)
        return match.group(1) if match else None

    def eligible_now(self, job_id: str) -> None:
        """SLURM holds a requeued job back for 2 minutes (EligibleTime = requeue + 120 s, its own
        delay): make it eligible now, as an admin would, so a test does not wait for nothing."""
        deadline = time.time() + 30
        while self.job_field(job_id, "JobState") != "PENDING":
            if time.time() > deadline:
                raise RuntimeError(f"job {job_id} did not go back to PENDING after its requeue")
            time.sleep(0.3)
        self.run("scontrol", "update", f"JobId={job_id}", "StartTime=now")

    def time_checks(self) -> list[float]:
        """When slurmctld checked time limits (epoch seconds), from its log (SlurmctldDebug=debug2)."""
        path = self.dir / "log" / "slurmctld.log"
        found: list[float] = []
        if not path.is_file():
            return found
        with open(path, "rb") as f:  # the last 256 kB: a check is logged every 30 s
            f.seek(max(0, path.stat().st_size - 262144))
            text = f.read().decode(errors="replace")
        for line in text.splitlines():
            if match := TIME_CHECK.match(line):
                found.append(datetime.fromisoformat(match.group(1)).timestamp())  # slurmctld logs local time
        return found

    def release_in_phase(self, job_ids: list[str], lo_s: float, hi_s: float, timeout_s: float = 90) -> float:
        """``scontrol release`` held jobs once the last time-limit check is ``lo_s`` to ``hi_s`` seconds
        ago, so that they start at a known point of slurmctld's 30-s cycle (their --signal comes
        60 s minus that after their start, see CHECK_EVERY_S). Returns that phase."""
        deadline = time.time() + timeout_s
        while True:
            checks = self.time_checks()
            if checks:
                phase = (time.time() - checks[-1]) % CHECK_EVERY_S
                if lo_s <= phase <= hi_s:
                    self.run("scontrol", "release", ",".join(job_ids))
                    return phase
            if time.time() > deadline:
                raise RuntimeError(f"no time-limit check of slurmctld in its log within {timeout_s:.0f} s ({len(checks)} seen)")
            time.sleep(0.2)

    def cancel_all(self) -> None:
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            self.run("scancel", "--user", getpass.getuser(), check=False)

    def stop(self) -> None:
        self.cancel_all()
        deadline = time.time() + 30
        while self.procs.get("slurmctld") and self.procs["slurmctld"].poll() is None and time.time() < deadline:
            try:
                if not self.jobs():
                    break
            except RuntimeError:
                break
            time.sleep(0.5)
        for name in reversed(DAEMONS):  # slurmd, slurmctld, munged
            proc = self.procs.pop(name, None)
            if proc is None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def slurm_cluster():
    """A started single-node cluster for the tests of one module; stopped and removed at the end."""
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
