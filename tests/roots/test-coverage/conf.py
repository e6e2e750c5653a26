extensions = ["specmodel.sphinxext"]
