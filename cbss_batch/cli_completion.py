"""``cbss-batch completion bash|zsh|fish``: the shell completion script, from click's own completion classes.

The script calls ``cbss-batch`` back with ``_CBSS_BATCH_COMPLETE`` set; click answers with the commands,
options and choices that fit. Enable it once per shell, for instance in ``~/.bashrc``:
``eval "$(cbss-batch completion bash)"`` (or ``eval "$(_CBSS_BATCH_COMPLETE=bash_source cbss-batch)"``).
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

PROG_NAME = "cbss-batch"  # the console script of setup.cfg; its completion variable follows from it
COMPLETE_VAR = "_CBSS_BATCH_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS), default="bash")
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for bash (default), zsh or fish.

    \b
    Enable it once:
      bash, in ~/.bashrc:  eval "$(cbss-batch completion bash)"
      zsh, in ~/.zshrc:    eval "$(cbss-batch completion zsh)"
      fish:                cbss-batch completion fish > ~/.config/fish/completions/cbss-batch.fish
    """
    complete_class = get_completion_class(shell)
    if complete_class is None:  # click ships all three; a click without one is a broken install
        raise click.UsageError(f"click has no completion for {shell}")
    root = ctx.find_root().command
    click.echo(complete_class(root, {}, PROG_NAME, COMPLETE_VAR).source().rstrip("\n"))
