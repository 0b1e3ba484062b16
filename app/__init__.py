"""Switchyard: a self-hosted LLM gateway with experimentation, logging and a feedback store."""

__version__ = "0.1.0"
