"""The local cloud from the pipeline's side: starting it, and reading the file that says where it is."""
