"""The Telegram side of foodbot: settings, the nutrition table, portions, and the `foodbot` command."""
