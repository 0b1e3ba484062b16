"""OpenAI-compatible wire types shared by the API, the pipeline and the providers."""
