"""``simulate`` used as a careless or hostile user would (issue 12): every bad input exits 2 with one line,
nothing the toolkit did not write is removed or overwritten, one run per output folder, nothing half-written."""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

import cli
from simulator.lock import OutputLock, _start_time
from tests.conftest import REPO
from tests.helpers import one_error_line

SMALL = ["--size", "32x32", "--no-progress"]


def _simulate(out, *args):
    return CliRunner().invoke(cli.cli, ["simulate", "--out", str(out), *SMALL, *args])


BAD_SETTINGS = [  # (override, text the one line must contain): the examples and the rest of the surface
    ("noise.model=bogus", "bogus"), ("exposure.frames=0", "exposure.frames=0"), ("exposure.ratio=0", "exposure.ratio=0"),
    ("exposure.ratio=.nan", "exposure.ratio=nan"), ("exposure.ratio=.inf", "exposure.ratio=inf"),
    ("exposure.unit_frame=9", "exposure.unit_frame=9"), ("noise.shot_noise=-1", "noise.shot_noise"),
    ("noise.read_noise=.inf", "noise.read_noise"), ("noise.bit_depth=0", "noise.bit_depth=0"),
    ("noise.bit_depth=40", "noise.bit_depth=40"), ("noise.black_level=5000", "noise.black_level=5000"),
    ("noise.black_level=-1", "noise.black_level=-1"), ("noise.levels=bogus", "bogus"),
    ("motion.length=[-4, 2]", "motion.length[0]=-4"), ("motion.length=[9, 2]", "low <= high"),
    ("motion.rotation=.nan", "motion.rotation"), ("motion.subframes=0", "motion.subframes=0"),
    ("motion.interpolator=bogus", "bogus"), ("motion.model=video", "source.name=video"),
    ("camera.name=bogus", "bogus"), ("seed=-1", "seed=-1"), ("output.split=../x", "output.split"),
    ("output.split=.hidden", "output.split"), ("downsample.scales=[1]", "downsample.scales"),
    ("source.scale=-1", "source.scale=-1"), ("source.highlight_gain=.nan", "source.highlight_gain"),
    ("source.name=hdr", "source.path"), ("noise.model=eld", None),
]


@pytest.mark.parametrize("override,needle", BAD_SETTINGS, ids=[o for o, _ in BAD_SETTINGS])
def test_every_bad_setting_exits_2_with_one_line_before_anything_is_created(tmp_path, override, needle):
    extra = ["--set", "noise.shot_noise=0.01"] if override == "noise.read_noise=.inf" else []
    if override == "noise.model=eld":  # eld with fixed levels is contradictory
        extra = ["--set", "noise.shot_noise=0.01", "--set", "noise.read_noise=0.01"]
        needle = "noise.model=eld"
    out = tmp_path / "out"
    result = _simulate(out, "--set", override, *extra)
    one_error_line(result, needle)
    assert not out.exists()  # no folder, so no empty manifest that would block the corrected run


def test_an_existing_sample_folder_is_refused_without_resume_and_kept(tmp_path):
    mine = tmp_path / "Test" / "builtin" / "000000"
    mine.mkdir(parents=True)
    (mine / "thesis.txt").write_text("years of work")
    result = _simulate(tmp_path, "--num-samples", "1")
    one_error_line(result, str(mine), "--resume")
    assert (mine / "thesis.txt").read_text() == "years of work"


def test_resume_removes_only_the_toolkits_own_unfinished_samples(tmp_path):
    assert _simulate(tmp_path, "--num-samples", "2").exit_code == 0
    ours = tmp_path / "Test" / "builtin" / "000001"
    manifest = tmp_path / "manifest_Test.json"
    data = json.loads(manifest.read_text())
    data["samples"] = data["samples"][:1]  # sample 1 written but not yet recorded: a kill between the two
    manifest.write_text(json.dumps(data))
    (ours / "raw_4.npy").write_bytes(b"half")
    result = _simulate(tmp_path, "--num-samples", "3", "--resume")
    assert result.exit_code == 0, result.output
    assert "2 sample(s) written, 1 kept" in result.stdout
    user = tmp_path / "Test" / "builtin" / "000003"  # the user's folder where sample 3 would go: refused, kept
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    one_error_line(_simulate(tmp_path, "--num-samples", "4", "--resume"), str(user), "not written by bracketire")
    assert (user / "notes.txt").read_text() == "mine"


def test_resume_never_removes_through_a_symbolic_link(tmp_path):
    outside = tmp_path / "outside"
    (outside / "builtin" / "000000").mkdir(parents=True)
    (outside / "builtin" / "000000" / "precious.npy").write_bytes(b"data")
    out = tmp_path / "out"
    out.mkdir()
    (out / "Test").symlink_to(outside, target_is_directory=True)
    for args in ((), ("--resume",)):
        one_error_line(_simulate(out, "--num-samples", "1", *args), "symbolic link")
    assert (outside / "builtin" / "000000" / "precious.npy").read_bytes() == b"data"


def test_a_run_that_writes_nothing_fails_and_leaves_no_manifest(tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    out = tmp_path / "out"
    result = _simulate(out, "--source", "ldr", "--source-path", str(sources))
    assert result.exit_code == 2, result.output
    assert "no sample written" in result.stderr and "broken.png" in result.stderr
    assert not (out / "manifest_Test.json").exists()


def test_out_that_is_a_file_and_corrupt_manifests_are_one_line_errors(tmp_path):
    afile = tmp_path / "file"
    afile.write_text("x")
    one_error_line(_simulate(afile), "--out", "is a file")
    out = tmp_path / "out"
    assert _simulate(out, "--num-samples", "1").exit_code == 0
    manifest = out / "manifest_Test.json"
    for text in ("{not json", json.dumps({"samples": "x", "config": {}}), json.dumps([1, 2])):
        manifest.write_text(text)
        one_error_line(_simulate(out, "--num-samples", "1", "--resume"), str(manifest))


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    import simulator.layout as layout

    def full(path, array):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(layout, "_save", full)
    result = _simulate(tmp_path, "--num-samples", "1")
    one_error_line(result, str(tmp_path / "Test" / "builtin" / "000000"), "No space left on device")
    assert not [p for p in (tmp_path / "Test" / "builtin").iterdir()]  # the temporary sample folder is gone


def test_a_live_lock_holder_is_named_and_a_dead_ones_lock_is_taken_over(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        lock = tmp_path / ".bracketire-simulate-Test.lock"
        tmp_path.mkdir(exist_ok=True)
        lock.write_text(json.dumps({"pid": holder.pid, "host": os.uname().nodename, "started": _start_time(holder.pid),
                                    "since": "now", "command": "simulate --out elsewhere"}))
        result = _simulate(tmp_path, "--num-samples", "1")
        one_error_line(result, f"pid {holder.pid}", "in use by another bracketire run")
        assert not (tmp_path / "Test").exists()
    finally:
        holder.kill()
        holder.wait()
    result = _simulate(tmp_path, "--num-samples", "1")  # the holder is dead now: its lock is stale
    assert result.exit_code == 0, result.output
    assert not lock.exists()  # released at the end


def test_two_locks_on_one_folder_exclude_each_other_but_splits_do_not(tmp_path):
    with OutputLock(tmp_path, "simulate-Test"):
        with pytest.raises(Exception, match=f"pid {os.getpid()}"):
            OutputLock(tmp_path, "simulate-Test").acquire()
        with OutputLock(tmp_path, "simulate-Train"):
            pass


def test_a_lock_with_wait_s_waits_for_a_live_holder_in_another_process(tmp_path):
    """What lets two ``bench`` runs share the built-in benchmark's cache: the second waits, then resumes."""
    code = ("import sys, time; from simulator.lock import OutputLock\n"
            "with OutputLock(sys.argv[1], 'builtin-benchmark'):\n"
            "    print('held', flush=True); sys.stdin.readline()\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(Exception, match=f"pid {holder.pid}"):
            OutputLock(tmp_path, "builtin-benchmark").acquire()  # no wait: refused at once
        holder.stdin.write("release\n")
        holder.stdin.flush()
        with OutputLock(tmp_path, "builtin-benchmark", wait_s=600) as lock:  # waits for the release, then holds it
            assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    finally:
        holder.kill()
        holder.wait()


def test_leftover_temporaries_are_swept_and_the_users_files_are_not(tmp_path):
    scene = tmp_path / "Test" / "builtin"
    (scene / ".000000.tmp-abc_12").mkdir(parents=True)
    (scene / ".000000.tmp-abc_12" / "raw_1.npy").write_bytes(b"half")
    (tmp_path / ".manifest_Test.json.k3j4.tmp").write_text("{")
    (tmp_path / ".notes.tmp").write_text("the user's")
    assert _simulate(tmp_path, "--num-samples", "1").exit_code == 0
    assert not (scene / ".000000.tmp-abc_12").exists() and not (tmp_path / ".manifest_Test.json.k3j4.tmp").exists()
    assert (tmp_path / ".notes.tmp").read_text() == "the user's"


def test_files_and_folders_follow_the_users_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        assert _simulate(tmp_path, "--num-samples", "1").exit_code == 0
    finally:
        os.umask(previous)
    sample = tmp_path / "Test" / "builtin" / "000000"
    assert stat.S_IMODE(sample.stat().st_mode) == 0o750  # mkdtemp alone gives 0700
    assert stat.S_IMODE((tmp_path / "manifest_Test.json").stat().st_mode) == 0o640  # mkstemp alone gives 0600
    assert stat.S_IMODE((sample / "raw_gt.npy").stat().st_mode) == 0o640


def _children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid):
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the worker processes through /proc (Linux)")
def test_a_second_run_is_refused_and_kill_9_takes_the_workers_down_and_resume_works_at_once(tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, "cli.py", "simulate", "--out", str(out), "--size", "64x64", "--num-samples", "30",
            "--workers", "2", "--no-progress"]
    run = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300  # a liveness bound for a loaded machine, not a speed requirement
    def written():
        try:
            return json.loads((out / "manifest_Test.json").read_text())["count"]
        except (OSError, ValueError, KeyError):
            return 0

    while time.monotonic() < deadline and run.poll() is None and written() < 4:  # both workers busy by now
        time.sleep(0.1)
    second = _simulate(out, "--num-samples", "30", "--resume")  # a concurrent second run on the same folder
    workers = _children(run.pid)  # loky's worker processes (and its resource tracker)
    assert run.poll() is None and workers, "simulate finished before it could be killed; make it longer"
    one_error_line(second, f"pid {run.pid}", "in use by another bracketire run")
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.2)
    assert not any(_alive(p) for p in workers), "workers outlived their parent"
    result = CliRunner().invoke(cli.cli, ["simulate", "--out", str(out), "--size", "64x64", "--num-samples", "30",
                                          "--no-progress", "--resume"])
    assert result.exit_code == 0, result.output
    assert "kept from before" in result.stdout
    manifest = json.loads((out / "manifest_Test.json").read_text())
    assert manifest["count"] == 30


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write into read-only folders")
def test_an_unwritable_out_is_one_line(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        one_error_line(_simulate(locked / "data"), "--out", "not writable")
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("override,needle", [
    ("exposure.frames=17", "exposure.frames=17; expected 2..16"), ("exposure.frames=1", "exposure.frames=1"),
    ("output.size=[32768, 32]", "output.size=[32768, 32]"), ("output.size=[32, 16386]", "<= 16384"),
    ("output.size=[-32, 32]", "output.size=[-32, 32]"), ("output.size=[33, 32]", "positive even number"),
], ids=lambda value: value if "=" in value else "")
def test_bounds_on_frames_and_output_size(tmp_path, override, needle):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli.cli, ["simulate", "--out", str(out), "--no-progress", "--set", override])
    one_error_line(result, needle)
    assert not out.exists()
