public enum WSGIServerPlaceholder {}
