//! Destinations as the engine sees them: linked in or loaded from plugins.
