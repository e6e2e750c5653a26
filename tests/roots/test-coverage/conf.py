extensions = ["specmodel.sphinxext"]
specmodel_kernel = "v6.9"
