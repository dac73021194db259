"""SQL the pipeline runs in the warehouse, kept in .sql files next to the code that runs them."""
