"""The model's input variables (Open-Meteo's hourly names), its features, its
window and horizon: numpy-free, so that code describing or sending alerts, or
checking a model card, does not load numpy."""

WINDOW_HOURS = 24  # consecutive hours the model reads
HORIZON_HOURS = 3  # it predicts rain in the hours after the window's last
HORIZONS = (1, 2, 3, 4, 5, 6)

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

# The model's input features, in order; the model card lists the same.
FEATURES = (
    "dew_point_depression",
    "dew_point_depression_change_3h",
    "relative_humidity",
    "relative_humidity_change_3h",
    "cloud_cover",
    "cloud_cover_change_3h",
    "cloud_cover_mean_6h",
    "pressure_tendency_3h",
    "pressure_tendency_12h",
    "temperature_change_3h",
    "temperature_range_24h",
    "wind_speed",
    "wind_u",
    "wind_v",
    "precipitation_log1p",
    "precipitation_3h_log1p",
    "rain_hours_24h",
    "hours_since_rain",
    "solar_hour_sin",
    "solar_hour_cos",
)
