"""The commands, by area; ``facelens.cli.main`` puts them together."""
