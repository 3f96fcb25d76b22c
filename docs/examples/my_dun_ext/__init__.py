"""An example user package that adds a stage to dunseg's RPCA skeleton."""
