class ApplicationController < ActionController::API
  rescue_from ActiveRecord::RecordNotFound do
    render json: { error: "Not found" }, status: :not_found
  end

  private

  def issue_token(user)
    JWT.encode({ user_id: user.id, exp: 15.minutes.from_now.to_i }, Rails.application.secret_key_base, "HS256")
  end

  def authenticate!
    token = request.headers["Authorization"].to_s.split(" ", 2).last
    payload = JWT.decode(token.to_s, Rails.application.secret_key_base, true, algorithm: "HS256").first
    @current_user = User.find_by(id: payload["user_id"])
    render json: { error: "Unauthorized" }, status: :unauthorized unless @current_user
  rescue JWT::DecodeError
    render json: { error: "Unauthorized" }, status: :unauthorized
  end

  def current_user
    @current_user
  end

  def require_expert!
    return if current_user.expert_profile

    render json: { error: "Expert profile required" }, status: :forbidden
  end

  def since_param
    raw = params[:since].presence
    return nil unless raw

    Time.iso8601(raw.tr(" ", "+"))
  rescue ArgumentError
    false
  end
end
