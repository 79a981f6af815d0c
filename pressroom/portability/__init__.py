"""Portability: the whole site as one open-format archive (export, restore) and as a WordPress
export (WXR) to leave with. It sits on top of the domain apps: it reads every app's models."""
