class AuthController < ApplicationController
  def register
    user = User.new(username: params[:username], password: params[:password])
    if user.save
      ExpertProfile.create!(user: user, knowledge_base_links: "[]")
      render json: { user: user.auth_json, token: issue_token(user) }, status: :created
    else
      render json: { errors: user.errors.full_messages }, status: :unprocessable_entity
    end
  end

  def login
    user = User.find_by(username: params[:username])
    if user&.authenticate(params[:password].to_s)
      user.update_column(:last_active_at, Time.now.utc)
      render json: { user: user.auth_json, token: issue_token(user) }
    else
      render json: { error: "Invalid username or password" }, status: :unauthorized
    end
  end
end
