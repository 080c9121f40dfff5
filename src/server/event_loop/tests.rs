//! Virtual-time tests of the loop (below).
