"""Line datasets: synthetic generator, readers of real datasets, and the DataModule."""
