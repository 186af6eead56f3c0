"""The policy: its models, the YAML/CSV loader, its checks and the secrets it holds."""
