"""Device meshes, logical-axis rules and parameter sharding (no model or SQL knowledge)."""
