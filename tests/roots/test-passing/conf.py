extensions = ["specmodel.sphinxext"]
specmodel_max_states = 50_000
