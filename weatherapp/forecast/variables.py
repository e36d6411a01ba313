"""The model's input variables (Open-Meteo's hourly names), its features, its
window and horizon: numpy-free, so that code describing or sending alerts, or
checking a model card, does not load numpy."""

WINDOW_HOURS = 24  # consecutive hours the model reads
HORIZON_HOURS = 3  # the default alert horizon: rain within 3 h of the window
# The model predicts P(rain within k hours) for each k; HORIZON_HOURS is one.
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

# The model's input features, in order; the model card lists the same. Chosen
# to transfer between stations (docs/MODEL.md, "Features and transfer"):
# wind_u, wind_v and temperature_range_24h were dropped (their station means
# differ by 0.4-0.7 within-station standard deviations and they encode local
# climate: prevailing winds, desert diurnal ranges). Cloud cover enters as its
# newest value only: its changes and 6-hour mean and maximum would let the
# model see that ISD's sky cover was missing (filled values do not change),
# which it is in 83 % of rainy hours; measured in docs/MODEL.md.
FEATURES = (
    "dew_point_depression",
    "dew_point_depression_change_3h",
    "relative_humidity",
    "relative_humidity_change_3h",
    "cloud_cover",
    "pressure_tendency_3h",
    "pressure_tendency_12h",
    "temperature_change_3h",
    "wind_speed",
    "precipitation_log1p",
    "precipitation_3h_log1p",
    "rain_hours_24h",
    "hours_since_rain",
    "solar_hour_sin",
    "solar_hour_cos",
    "pressure_tendency_1h",
    "wind_speed_change_3h",
    "dew_point_change_3h",
    "relative_humidity_max_6h",
    "precipitation_6h_log1p",
    "temperature_change_1h",
    # Newest value minus the window's 24-hour mean: how unusual this hour is
    # for this place today, which transfers where most absolute values do not
    # (absolute moisture, v4 below, is the measured exception).
    "dew_point_depression_anomaly_24h",
    "relative_humidity_anomaly_24h",
    "pressure_anomaly_24h",
    "temperature_anomaly_24h",
    "wind_speed_anomaly_24h",
    "dew_point_anomaly_24h",
    # Model v3 (docs/MODEL.md, "Features and transfer"): longer and shorter
    # tendencies, the newest hour against the window's own extremes and
    # spread, and the 24 hours' rain; none with a station spread above 0.27.
    "pressure_tendency_6h",
    "pressure_tendency_23h",
    "pressure_tendency_3h_change",
    "relative_humidity_change_6h",
    "dew_point_depression_change_6h",
    "dew_point_change_6h",
    "dew_point_change_23h",
    "temperature_change_23h",
    "temperature_change_6h",
    "wind_speed_max_6h_anomaly_24h",
    "wind_vector_change_3h",
    "relative_humidity_below_max_24h",
    "precipitation_max_24h_log1p",
    "precipitation_24h_log1p",
    "relative_humidity_change_1h",
    "dew_point_depression_change_1h",
    "wind_speed_change_1h",
    "dew_point_depression_zscore_24h",
    "temperature_zscore_24h",
    "pressure_anomaly_6h",
    # Model v4 (docs/MODEL.md, "Version 4"): absolute moisture, in °C, the
    # first station-dependent features added since v2 (station spread
    # 0.84-0.87). Convection needs moist air, which no change or anomaly
    # says; validated on stations held out whole in 2017-2018, so the gain
    # (+0.003 AUC, every fold, onset and observed-sky windows too) is what
    # transfers. Newest temperature and 24 h mean temperature added nothing.
    "dew_point",
    "dew_point_mean_24h",
    "dew_point_max_24h",
)
