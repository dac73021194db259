"""SMVue's calendar pipeline: Dagster assets, resources and sensors, plus the library they use."""
