"""What the tests share: real git repositories, a tiny model, a scripted OpenAI endpoint."""
