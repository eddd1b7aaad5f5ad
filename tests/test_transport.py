"""One transport policy for both chain families, without a node: `attempts` counts every try,
the deprecated `retries` counts retries (with a note), only transient faults are retried, and
every chain table is checked by its family before any long work."""

from __future__ import annotations

import pytest
from aiohttp import web

from chains import FAMILIES, bitcoin, evm, family_module
from chains.base import ChainFamily
from por.errors import InputError, ProviderError
from por.reserves.inputs import load_chains_config

EVM = {"family": "evm", "chain_id": 1, "native_asset": "ETH", "timeout": 2}
BTC = {"family": "bitcoin", "network": "regtest", "native_asset": "BTC", "timeout": 2}


class Failing:
    """A local HTTP server that answers every request with `status`, counting them."""

    def __init__(self, status: int) -> None:
        self.status, self.hits = status, 0

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(status=self.status, text="nope")

    async def __aenter__(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - aiohttp exposes the bound port only here
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


def table(family: str, url: str, **extra: object) -> dict[str, object]:
    if family == "evm":
        return {**EVM, "rpc": [url], **extra}
    return {**BTC, "esplora": [url], **extra}


@pytest.mark.parametrize("family", ["evm", "bitcoin"])
@pytest.mark.parametrize(
    "keys, tries", [({"attempts": 1}, 1), ({"attempts": 3}, 3), ({"retries": 2}, 3), ({"retries": 0}, 1)]
)
async def test_attempts_count_every_try_on_both_families(family, keys, tries):
    server = Failing(503)
    async with server as url:
        async with family_module(family).make_adapter("c", table(family, url, **keys)) as adapter:
            with pytest.raises(ProviderError) as err:
                await adapter.tip_height()
    assert server.hits == tries
    assert "HTTP 503" in err.value.reason and f"after {tries} attempts" in err.value.reason


@pytest.mark.parametrize("family", ["evm", "bitcoin"])
async def test_a_hard_failure_is_not_retried(family):
    server = Failing(403)
    async with server as url:
        async with family_module(family).make_adapter("c", table(family, url, attempts=4)) as adapter:
            with pytest.raises(ProviderError) as err:
                await adapter.tip_height()
    assert server.hits == 1 and "403" in str(err.value) and "attempts" not in err.value.reason


@pytest.mark.parametrize("family", ["evm", "bitcoin"])
def test_defaults_are_the_documented_ones(family):
    settings = family_module(family).settings("c", table(family, "http://127.0.0.1:1", timeout=30))
    assert settings.transport.attempts == 4 and settings.transport.timeout == 30.0
    assert settings.transport.concurrency == (4 if family == "evm" else 8)
    assert settings.batch_size == 100


@pytest.mark.parametrize("family", ["evm", "bitcoin"])
def test_retries_is_read_with_a_deprecation_note_and_never_beside_attempts(family):
    module = family_module(family)
    assert module.check_config("c", table(family, "http://127.0.0.1:1", attempts=2)) == []
    notes = module.check_config("c", table(family, "http://127.0.0.1:1", retries=3))
    assert notes == ["chains.c.retries is deprecated: write `attempts = 4` (attempts count the first try)"]
    with pytest.raises(InputError) as err:
        module.check_config("c", table(family, "http://127.0.0.1:1", retries=3, attempts=4))
    assert err.value.field == "chains.c.retries"


def test_every_family_module_is_a_chain_family():
    for family in FAMILIES:
        assert isinstance(family_module(family), ChainFamily), family
    assert family_module("evm") is evm and family_module("bitcoin") is bitcoin


@pytest.mark.parametrize(
    "text, field",
    [
        (
            '[chains.eth]\nfamily = "evm"\nchain_id = 1\nrpc = ["http://a"]\nnative_asset = "ETH"\nbatch_sise = 5\n',
            "chains.eth.batch_sise",
        ),
        (
            '[chains.btc]\nfamily = "bitcoin"\nesplora = ["http://a:1"]\nmin_confirmations = -1\n',
            "chains.btc.min_confirmations",
        ),
        ('[chains.btc]\nfamily = "bitcoin"\nesplora = ["http://a:1"]\nattempts = 0\n', "chains.btc.attempts"),
        ('[chains.sol]\nfamily = "solana"\n', "chains.sol.family"),
    ],
)
def test_a_typo_in_a_chain_table_is_refused_when_chains_toml_is_loaded(tmp_path, text, field):
    path = tmp_path / "chains.toml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_chains_config(path)
    assert err.value.field == field and err.value.file == str(path)


def test_the_deprecation_note_is_one_line_naming_file_and_key(tmp_path, capsys):
    path = tmp_path / "chains.toml"
    path.write_text('[chains.btc]\nfamily = "bitcoin"\nesplora = ["http://a:1"]\nretries = 3\n')
    load_chains_config(path)
    err = capsys.readouterr().err
    assert (
        err == f"por: note: {path}: chains.btc.retries is deprecated: write `attempts = 4` "
        "(attempts count the first try)\n"
    )
    seen: list[str] = []
    load_chains_config(path, note=seen.append)
    assert len(seen) == 1 and not capsys.readouterr().err
