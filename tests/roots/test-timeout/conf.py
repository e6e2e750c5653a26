extensions = ["specmodel.sphinxext"]
specmodel_time_limit = 0.3
