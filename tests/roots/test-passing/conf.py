extensions = ["specmodel.sphinxext"]
specmodel_max_states = 50_000
specmodel_kernel = "v6.9"  # the struct as of ~v6.9: the root documents exactly its members
