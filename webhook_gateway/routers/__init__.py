"""One router per concern (STYLE.md: FastAPI's tutorial layout)."""
