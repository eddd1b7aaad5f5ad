"""Policy files: the built-in ones load with exact numbers; malformed ones name file and field."""

from decimal import Decimal
from pathlib import Path

import pytest

from chains.records import WalletType
from por.audit.policy import builtin_policies, load_policy, parse_policy
from por.errors import InputError

POLICY_DIR = Path(__file__).parents[1] / "por" / "policies"


def write(tmp_path, text, name="mine.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_policies_are_package_data():
    assert builtin_policies() == ["full-reserve", "jp-fsa", "jp-fsa-clamp"]
    assert sorted(p.name for p in POLICY_DIR.glob("*.toml")) == [
        "full-reserve.toml",
        "jp-fsa-clamp.toml",
        "jp-fsa.toml",
    ]


def test_full_reserve_loads_with_its_defaults():
    policy = load_policy("full-reserve")
    assert policy.name == "full-reserve"
    assert policy.coverage.min_ratio == Decimal("1.00")
    assert policy.coverage.count == (WalletType.COLD, WalletType.HOT, WalletType.OWN)
    assert policy.cold_storage is None and policy.hot_guarantee is None and policy.liability_reserve is None
    assert (policy.addresses.duplicates, policy.addresses.also_claimed) == ("count_once", "exclude")


def test_jp_fsa_loads_every_rule_with_exact_numbers():
    policy = load_policy("jp-fsa")
    assert policy.coverage.count == (WalletType.COLD, WalletType.HOT)
    assert policy.cold_storage.min_ratio == Decimal("0.95") and policy.cold_storage.scope == "per_asset"
    assert policy.hot_guarantee.basis == "customer_not_cold"
    reserve = policy.liability_reserve
    assert (reserve.method, reserve.window_months, reserve.aggregate, reserve.rounding) == (
        "trading_volume",
        12,
        "sum",
        "up",
    )
    assert dict(reserve.rates) == {c: Decimal("0.0002") for c in ("dealer", "derivatives", "exchange", "margin")}
    assert (reserve.floor_jpy, reserve.cap_jpy, reserve.insurance_max_share) == (0, None, 1)
    assert policy.custodians is not None and policy.custodians.require_registry
    assert len(policy.sha256) == 64 and policy.source.endswith("jp-fsa.toml")
    simpler = load_policy("jp-fsa-clamp").liability_reserve  # today's rule, kept by name
    assert (simpler.method, simpler.floor_jpy, simpler.cap_jpy) == ("clamp", 2_000_000_000, 40_000_000_000)
    assert simpler.basis == "customer_liabilities_jpy" and simpler.rate == Decimal("0.02")


def test_a_users_own_policy_file_works_by_path(tmp_path):
    path = write(
        tmp_path,
        """
[policy]
name = "my-rules"
title = "ours"
[coverage]
min_ratio = 1.1
count = ["cold"]
[cold_storage]
min_ratio = 0.8
scope = "total_jpy"
""",
    )
    policy = load_policy(path)
    assert policy.name == "my-rules" and policy.source == str(path)
    assert policy.coverage.min_ratio == Decimal("1.1") and policy.coverage.count == (WalletType.COLD,)
    assert load_policy(str(path)).sha256 == policy.sha256
    assert policy.to_json()["rules"]["cold_storage"] == {"min_ratio": "0.8", "scope": "total_jpy"}


def test_toml_floats_are_read_exactly_not_as_binary_floats():
    policy = parse_policy(b'[policy]\nname = "x"\n[cold_storage]\nmin_ratio = 0.95\n', "x.toml")
    assert policy.cold_storage.min_ratio == Decimal("0.95")  # float("0.95") would be 0.9499999...
    policy = parse_policy(b'[policy]\nname = "x"\n[liability_reserve]\nrate = 1e-3\ncap_jpy = 4e10\n', "x.toml")
    assert policy.liability_reserve.rate == Decimal("0.001") and policy.liability_reserve.cap_jpy == 4 * 10**10
    assert policy.to_json()["rules"]["liability_reserve"]["cap_jpy"] == "40000000000"


def test_a_copy_of_a_builtin_policy_loads_the_same(tmp_path):
    path = write(tmp_path, (POLICY_DIR / "jp-fsa.toml").read_text(encoding="utf-8"))
    mine, builtin = load_policy(path), load_policy("jp-fsa")
    assert mine.to_json()["rules"] == builtin.to_json()["rules"] and mine.sha256 == builtin.sha256


@pytest.mark.parametrize(
    "text, field, reason",
    [
        # unknown keys, at every level
        ('[policy]\nname = "x"\n[coverage]\nmin_ration = 1\n', "coverage.min_ration", "unknown key"),
        ('[policy]\nname = "x"\n[coverage]\n[extra]\n', "extra", "unknown key"),
        ('[policy]\nname = "x"\nauthor = "me"\n[coverage]\n', "policy.author", "unknown key"),
        (
            '[policy]\nname = "x"\n[liability_reserve]\nrate = 0.1\nfloor = 5\n',
            "liability_reserve.floor",
            "unknown key",
        ),
        # wrong types
        (
            '[policy]\nname = "x"\n[coverage]\nmin_ratio = true\n',
            "coverage.min_ratio",
            "must be a number, got a boolean",
        ),
        ('[policy]\nname = "x"\n[coverage]\nmin_ratio = [1]\n', "coverage.min_ratio", "must be a number, got an array"),
        ('[policy]\nname = "x"\n[coverage]\nmin_ratio = "about one"\n', "coverage.min_ratio", "not a plain"),
        ('[policy]\nname = "x"\n[coverage]\ncount = "cold"\n', "coverage.count", "non-empty list"),
        ('[policy]\nname = "x"\n[coverage]\ncount = ["cold", "warm"]\n', "coverage.count", "cold, hot and own"),
        ('[policy]\nname = "x"\n[coverage]\ncount = ["cold", "cold"]\n', "coverage.count", "twice"),
        ('coverage = 1\n[policy]\nname = "x"\n', "coverage", "must be a table"),
        ("[policy]\nname = 7\n[coverage]\n", "policy.name", "must be a string"),
        ('[policy]\nname = "x"\n[cold_storage]\nscope = "global"\n', "cold_storage.scope", "per_asset, total_jpy"),
        ('[policy]\nname = "x"\n[hot_guarantee]\nbasis = 1\n', "hot_guarantee.basis", "must be one of"),
        (
            '[policy]\nname = "x"\n[coverage]\n[addresses]\nalso_claimed = "ignore"\n',
            "addresses.also_claimed",
            "exclude, count",
        ),
        # out of range
        ('[policy]\nname = "x"\n[coverage]\nmin_ratio = -0.5\n', "coverage.min_ratio", "must be >= 0"),
        ('[policy]\nname = "x"\n[coverage]\nmin_ratio = "-1"\n', "coverage.min_ratio", "not a plain"),
        ('[policy]\nname = "x"\n[cold_storage]\nmin_ratio = 1.5\n', "cold_storage.min_ratio", "must be <= 1"),
        ('[policy]\nname = "x"\n[hot_guarantee]\nmin_ratio = -1\n', "hot_guarantee.min_ratio", "must be >= 0"),
        ('[policy]\nname = "x"\n[coverage]\nmin_ratio = nan\n', "coverage.min_ratio", "finite"),
        ('[policy]\nname = "x"\n[coverage]\nmin_ratio = inf\n', "coverage.min_ratio", "finite"),
        ('[policy]\nname = "x"\n[coverage]\nmin_ratio = 1e99\n', "coverage.min_ratio", "too many digits"),
        (
            '[policy]\nname = "x"\n[liability_reserve]\nrate = 0.1\nfloor_jpy = 5\ncap_jpy = 4\n',
            "liability_reserve.cap_jpy",
            "below floor_jpy",
        ),
        (
            '[policy]\nname = "x"\n[liability_reserve]\nrate = 0.1\ninsurance_max_share = 2\n',
            "liability_reserve.insurance_max_share",
            "must be <= 1",
        ),
        (
            '[policy]\nname = "x"\n[liability_reserve]\nrate = 0.1\ninsurance_jpy = -1\n',
            "liability_reserve.insurance_jpy",
            "must be >= 0",
        ),
        # missing pieces
        ('[policy]\nname = "x"\n[liability_reserve]\nfloor_jpy = 1\n', "liability_reserve.rate", "missing"),
        ("[coverage]\n", "policy", "missing"),
        ('[policy]\ntitle = "t"\n[coverage]\n', "policy.name", "missing"),
        ('[policy]\nname = "Big Name"\n[coverage]\n', "policy.name", "a-z 0-9"),
        ('[policy]\nname = "x"\nversion = 2\n[coverage]\n', "policy.version", "must be 1"),
        ('[policy]\nname = "x"\nreferences = "law"\n[coverage]\n', "policy.references", "list of strings"),
    ],
)
def test_malformed_policy_names_file_and_field(tmp_path, text, field, reason):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_policy(path)
    error = info.value
    assert error.file == str(path) and error.field == field
    assert reason in error.reason
    assert str(error).startswith(f"{path}: {field}: ")


def test_bad_toml_names_file_and_line(tmp_path):
    path = write(tmp_path, '[policy]\nname = "x"\n[coverage]\nmin_ratio = = 1\n')
    with pytest.raises(InputError) as info:
        load_policy(path)
    assert info.value.file == str(path) and info.value.line == 4
    assert str(info.value).startswith(f"{path}:4: invalid TOML")


def test_duplicate_key_in_toml_is_refused(tmp_path):
    path = write(tmp_path, '[policy]\nname = "x"\n[coverage]\nmin_ratio = 1\nmin_ratio = 0\n')
    with pytest.raises(InputError, match="invalid TOML"):
        load_policy(path)


def test_a_policy_without_rules_is_refused(tmp_path):
    path = write(tmp_path, '[policy]\nname = "empty"\n[addresses]\nduplicates = "fail"\n')
    with pytest.raises(InputError, match="at least one rule table") as info:
        load_policy(path)
    assert info.value.file == str(path)


def test_not_utf8_and_empty_and_missing_files(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('[policy]\nname = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_policy(path)
    with pytest.raises(InputError, match="policy") as info:
        load_policy(write(tmp_path, "", "empty.toml"))
    assert info.value.field == "policy"
    with pytest.raises(InputError) as info:
        load_policy("no-such-policy")
    assert info.value.field == "--policy" and "full-reserve, jp-fsa" in info.value.reason
    with pytest.raises(InputError, match="neither a built-in policy"):
        load_policy(tmp_path / "missing.toml")


def test_a_name_that_is_also_a_local_file_prefers_the_builtin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, '[policy]\nname = "fake"\n[coverage]\nmin_ratio = 0\n', "jp-fsa")
    assert load_policy("jp-fsa").name == "jp-fsa"
    assert load_policy("./jp-fsa").name == "fake"
