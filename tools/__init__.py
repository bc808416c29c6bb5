"""Developer tools: data-extraction scripts; browser, email-linter and digest-report helpers."""
