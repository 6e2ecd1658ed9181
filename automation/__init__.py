"""The automation pipeline: triage, dispatch and resolution. Every side effect it wants is an
Action handed to `governance`; nothing here writes to a PSA, directory or device directly."""
