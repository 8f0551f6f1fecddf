"""Model sources: the built-in zoo, resolving names and files into artifacts, and seeded inputs."""
