"""Shared core of safer: configuration, errors, periods and the one-pass job."""
