"""Messages are plain text and one line each, whatever the value and wherever the output goes."""

from __future__ import annotations

from conftest import dump, egov, load


def test_line_100_is_printed_as_is_not_as_an_emoji(lab_yaml):
    import yaml

    body = yaml.safe_dump(load(lab_yaml), default_flow_style=True, width=100000).strip()  # {...} on one line
    lab_yaml.write_text("\n".join(["# padding"] * 98 + [body[:-1] + ","]) + "\n  bomb2: 1}\n")
    assert lab_yaml.read_text().splitlines()[99] == "  bomb2: 1}"  # line 100
    r = egov("plan", "validate", "--profile", str(lab_yaml))
    assert r.returncode == 1
    assert f"{lab_yaml}:100: bomb2: unknown field; fix:" in r.stderr
    assert "\U0001f4af" not in r.stderr  # rich's :100: emoji


def test_brackets_in_values_are_not_markup(lab_yaml):
    data = load(lab_yaml)
    data["tiers"]["county"]["[bold]bandwith[/bold]"] = "2G"
    dump(lab_yaml, data)
    r = egov("plan", "validate", "--profile", str(lab_yaml))
    assert "tiers.county.[bold]bandwith[/bold]: unknown field" in r.stderr


def test_long_messages_stay_on_one_line_in_pipes(tmp_path):
    deep = tmp_path.joinpath(*["a-rather-long-directory-name-for-ci-logs"] * 6)
    deep.mkdir(parents=True)
    missing = deep / "no-such-profile.yaml"
    r = egov("plan", "validate", "--profile", str(missing))
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and len(lines[0]) > 300, r.stderr
    assert lines[0].startswith(str(missing)) and lines[0].endswith("or a profile name")


def test_success_lines_stay_on_one_line(lab_yaml, tmp_path):
    out = tmp_path.joinpath(*["another-long-directory-name-for-the-output"] * 4)
    r = egov("inventory", "export", "--profile", str(lab_yaml), "--out", str(out / "hosts.yml"))
    assert r.returncode == 0, r.stderr
    (line,) = [x for x in r.stderr.splitlines() if x.startswith("inventory:")]
    assert line.endswith("hosts.yml")
