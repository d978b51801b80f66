"""The ``sessionary`` click group; each subcommand lives in a module of its own."""

from __future__ import annotations

import click

from sessionary import __version__
from sessionary.cli.audit import audit
from sessionary.cli.bench import bench
from sessionary.cli.db import db
from sessionary.cli.demo import demo
from sessionary.cli.events import events
from sessionary.cli.migrate import migrate
from sessionary.cli.sessions import sessions
from sessionary.cli.stats import stats

__all__ = ["cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sessionary")
def cli() -> None:
    """sessionary: distributed HTTP sessions. Try 'sessionary demo'."""


cli.add_command(demo)
cli.add_command(sessions)
cli.add_command(events)
cli.add_command(bench)
cli.add_command(stats)
cli.add_command(migrate)
cli.add_command(db)
cli.add_command(audit)
