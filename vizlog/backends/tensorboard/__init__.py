"""TensorBoard: event files written by vizlog's sender, summaries built by torch's or
tensorboardX's own functions, projector files, and where they are stored."""
