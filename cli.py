"""Command line of the BracketIRE Toolkit: ``python cli.py COMMAND`` (or ``bracketire COMMAND``).

Thin by design: each command parses its options, calls one library function and prints. Errors follow one
policy: the toolkit's own errors (bad input) print one line and exit with code 2; anything unexpected
prints a short message and exits with code 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from simulator import __version__
from simulator.errors import BracketIREError


class _Toolkit(click.Group):
    """A click group that applies the toolkit's error policy to every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BracketIREError as err:
            if ctx.meta.get("debug"):
                raise
            click.echo(f"error: {err}", err=True)
            ctx.exit(2)
        except Exception as err:
            if ctx.meta.get("debug"):
                raise
            click.echo(f"unexpected error: {type(err).__name__}: {err} (run with --debug for the traceback)", err=True)
            ctx.exit(1)


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta["debug"] = value
    return value


@click.group(cls=_Toolkit, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bracketire")
@click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
              help="Show full tracebacks instead of one-line errors.")
def cli() -> None:
    """BracketIRE Toolkit: simulate bracketed RAW data, train restoration models, benchmark them."""


@cli.command()
def info() -> None:
    """List every registry: demosaicers, cameras, CFA orders (and more as they arrive)."""
    from benchmark.info import toolkit_registries

    click.echo(f"bracketire {__version__}")
    for title, entries in toolkit_registries().items():
        click.echo(f"\n{title}:")
        width = max(len(entry.name) for entry in entries)
        for entry in entries:
            click.echo(f"  {entry.name:<{width}}  {entry.summary}")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="bracketire")


if __name__ == "__main__":
    sys.exit(main())
