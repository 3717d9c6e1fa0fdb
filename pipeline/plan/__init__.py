"""What a run will do, decided from content keys before anything runs: the stage graph, the CLI's selection of
stages and shots, the plan, and the views of it (`film status`, `film make --estimate`)."""
