"""The cluster backends of ``simulate`` on real local clusters: the same bytes as one process.

Needs the ``dist`` extra (``pip install '.[dist]'``; ``make test`` installs it); each test is skipped with that
reason only when the extra is absent.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import cli
from simulator.backends import check_backend, parallel_results
from simulator.core.errors import ConfigError
from simulator.core.weights import sha256_of

SMALL = ["--num-samples", "2", "--size", "64x64", "--no-progress", "--set", "motion.model=none"]


def _simulate(out, *args):
    return CliRunner().invoke(cli.cli, ["simulate", "--out", str(out), *SMALL, *args])


def _tree(root):
    """Every file under ``root`` (the manifest included) and its checksum."""
    return {str(p.relative_to(root)): sha256_of(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    result = _simulate(out)
    assert result.exit_code == 0, result.output
    return _tree(out)


def _square(x: int) -> int:
    return x * x


def test_an_unknown_backend_is_a_config_error():
    with pytest.raises(ConfigError, match="'spark'"):
        check_backend("spark")
    assert sorted(parallel_results(_square, [(2,), (3,)], workers=1, backend="loky")) == [4, 9]


def test_dask_on_a_running_local_cluster_writes_the_same_files(tmp_path, single):
    distributed = pytest.importorskip("distributed", reason="the dist extra (dask[distributed]) is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        result = _simulate(tmp_path, "--workers", "2", "--backend", "dask")
        assert result.exit_code == 0, result.output
        workers_used = client.run(lambda: 1)  # the cluster is still ours and alive after the run
        prefixes = list(cluster.scheduler.task_prefixes)
    assert len(workers_used) == 2
    assert any("_make_sample" in p for p in prefixes), prefixes  # the samples really ran on the cluster
    assert _tree(tmp_path) == single


def test_dask_without_a_client_starts_and_closes_its_own_local_cluster(single, tmp_path):
    distributed = pytest.importorskip("distributed", reason="the dist extra (dask[distributed]) is not installed")
    result = _simulate(tmp_path, "--workers", "2", "--backend", "dask")
    assert result.exit_code == 0, result.output
    assert _tree(tmp_path) == single
    with pytest.raises(ValueError):  # nothing left behind in this process
        distributed.get_client()


@pytest.mark.slow
def test_ray_on_a_local_ray_writes_the_same_files(tmp_path, single):
    ray = pytest.importorskip("ray", reason="the dist extra (ray) is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = _simulate(tmp_path, "--workers", "2", "--backend", "ray")
        assert result.exit_code == 0, result.output
        assert ray.is_initialized()  # a Ray the caller started is left running
    finally:
        ray.shutdown()
    assert _tree(tmp_path) == single
