"""Launchers that start `python -m spft_jax.main` on several processes, hosts or a pod.

Kept outside the `spft_jax` package (and free of JAX imports) so that a launcher never
initialises a JAX backend in the parent process; `local_multiprocess` is importable from the
repository root as `launch.local_multiprocess`.
"""
