"""Pressroom: a self-hosted publishing platform for independent, reader-funded newsrooms."""
