class UserError(ValueError):
    """A mistake in the user's config, data, weights or plugins: reported as one line by the CLI."""
