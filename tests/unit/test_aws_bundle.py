"""The source bundle Elastic Beanstalk deploys."""

import zipfile
from importlib import metadata

import pytest
from test_aws_support import rails_app

from scaleperf.aws import bundle
from scaleperf.errors import ScaleperfError


def _names(b):
    return set(zipfile.ZipFile(b.path).namelist())


def test_rails_folder_is_bundled_with_a_leader_only_seed(tmp_path):
    b = bundle.build(tmp_path / "out", rails_app(tmp_path))
    assert b.kind == "rails"
    names = _names(b)
    assert {"Gemfile", "config.ru", "config/database.yml", ".ebextensions/scaleperf.config"} <= names
    assert "log/production.log" not in names
    ext = zipfile.ZipFile(b.path).read(".ebextensions/scaleperf.config").decode()
    script = zipfile.ZipFile(b.path).read(bundle.SEED_SCRIPT).decode()
    assert '"leader_only": true' in ext and "rails db:seed" in script and "SCALEPERF_SEED" in script


def test_same_app_gives_the_same_version_label(tmp_path):
    app = rails_app(tmp_path)
    first = bundle.build(tmp_path / "a", app)
    again = bundle.build(tmp_path / "b", app)
    assert first.label == again.label and first.label.startswith("sp-")
    (app / "Gemfile").write_text('gem "rails", "~> 8.1"\n')
    assert bundle.build(tmp_path / "c", app).label != first.label


def test_rails_zip_of_the_folder_instead_of_its_contents_is_explained(tmp_path):
    app = rails_app(tmp_path)
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    with zipfile.ZipFile(good, "w") as zg, zipfile.ZipFile(bad, "w") as zb:
        for f in app.rglob("*"):
            if f.is_file():
                zg.write(f, f.relative_to(app).as_posix())
                zb.write(f, f.relative_to(tmp_path).as_posix())
    assert ".ebextensions/scaleperf.config" in _names(bundle.build(tmp_path / "out", good))
    with pytest.raises(ScaleperfError, match="zip the app's contents, not its folder"):
        bundle.build(tmp_path / "out2", bad)
    with pytest.raises(ScaleperfError, match="no Gemfile"):
        bundle.build(tmp_path / "out3", tmp_path / "out")


def test_reference_backend_bundle_has_procfile_pinned_requirements_and_users(tmp_path):
    repo = tmp_path / "repo"
    (repo / "src" / "helpdesk").mkdir(parents=True)
    (repo / "src" / "helpdesk" / "__init__.py").write_text("")
    (repo / "src" / "helpdesk" / "__main__.py").write_text("print('serve')\n")
    (repo / "fixtures").mkdir()
    (repo / "fixtures" / "users.tsv").write_text("user_0\t$2b$12$abc\n")
    b = bundle.reference(tmp_path / "out", repo)
    zf = zipfile.ZipFile(b.path)
    assert b.kind == "reference"
    assert {"helpdesk/__init__.py", "helpdesk/__main__.py", "fixtures/users.tsv", "Procfile", "requirements.txt"} <= set(
        zf.namelist()
    )
    proc = zf.read("Procfile").decode()
    assert proc.startswith("web: python -m helpdesk serve --database-url") and f"--port {bundle.APP_PORT}" in proc
    assert f"starlette=={metadata.version('starlette')}" in zf.read("requirements.txt").decode().splitlines()
    assert "python -m helpdesk seed" in zf.read(bundle.SEED_SCRIPT).decode()
    with pytest.raises(ScaleperfError, match="reference backend is incomplete"):
        bundle.reference(tmp_path / "out", tmp_path / "empty")
