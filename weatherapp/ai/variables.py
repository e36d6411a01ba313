"""The model's input variables (Open-Meteo's hourly names) and its window and
horizon, numpy-free so that code describing or sending alerts does not load
numpy."""

WINDOW_HOURS = 24  # consecutive hours the model reads
HORIZON_HOURS = 3  # it predicts rain in the hours after the window's last

# The order of the model's input window (axis 2 of a window stack).
VARIABLES = (
    "temperature_2m",
    "relative_humidity_2m",
    "dew_point_2m",
    "surface_pressure",
    "cloud_cover",
    "wind_speed_10m",
    "wind_direction_10m",
    "precipitation",
)
# Features only use the pressure tendency, which is the same at station level
# and at sea level, so either variable will do.
PRESSURE_ALIASES = ("surface_pressure", "pressure_msl")
